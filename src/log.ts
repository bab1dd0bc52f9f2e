export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_KEY = /pass(word)?|secret|token|authorization|api[-_]?key|cookie/i;

export interface Logger {
  debug(ctx: object | string, msg?: string): void;
  info(ctx: object | string, msg?: string): void;
  warn(ctx: object | string, msg?: string): void;
  error(ctx: object | string, msg?: string): void;
  child(ctx: object): Logger;
}

/** Replaces values of secret-looking keys so no token, password or key ever reaches a log line. */
function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (!value || typeof value !== "object" || depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  return out;
}

/** Where a log line goes: stdout, errors on stderr. */
function writeLine(line: string, level: Level): void {
  if (level === "error") process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

/** One structured JSON line per event on stdout (errors on stderr), or given to `sink` (tests read the lines). */
export function createLogger(level: Level | "silent" = "info", base: object = {}, sink: (line: string, level: Level) => void = writeLine): Logger {
  const min = ORDER[level];
  const write = (lvl: Level, ctx: object | string, msg?: string) => {
    if (ORDER[lvl] < min) return;
    const fields = typeof ctx === "string" ? { msg: ctx } : { ...(redact(ctx) as object), msg };
    sink(JSON.stringify({ level: lvl, time: new Date().toISOString(), ...base, ...fields }), lvl);
  };
  return {
    debug: (c, m) => write("debug", c, m),
    info: (c, m) => write("info", c, m),
    warn: (c, m) => write("warn", c, m),
    error: (c, m) => write("error", c, m),
    child: (ctx) => createLogger(level, { ...base, ...(redact(ctx) as object) }, sink),
  };
}
