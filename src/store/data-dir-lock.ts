import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { resolve } from "node:path";

/** What a lock file holds: the pid of the instance and, where the OS tells it, when that process started. */
interface Holder {
  pid: number;
  started?: string;
  since: string;
}

/** A process's start time as the kernel counts it (Linux), so a reused pid is not taken for the holder. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function isAlive(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const started = processStart(holder.pid);
  return holder.started === undefined || started === undefined || started === holder.started;
}

export class DataDirInUse extends Error {}

/**
 * Claims a data folder for this process, so a second `bun run start` on the same folder refuses to
 * start instead of taking its Redis for a crash's leftover. A lock left by a process that is gone
 * (killed, crashed) is taken over. Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const folder = resolve(dir);
  mkdirSync(folder, { recursive: true });
  const path = `${folder}/memory-mesh.lock`;
  const me: Holder = { pid: process.pid, started: processStart(process.pid), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return () => {
        if (existsSync(path) && readHolder(path)?.pid === me.pid) unlinkSync(path);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(path);
    if (holder && isAlive(holder)) {
      throw new DataDirInUse(
        `The data folder ${folder} is in use by another Memory Mesh (pid ${holder.pid}, since ${holder.since}). ` +
          "Stop that one first (Ctrl-C where it runs), or give this one its own folder with REDIS_EMBEDDED_DIR.",
      );
    }
    // Left by a process that is gone: take it over.
    try {
      unlinkSync(path);
    } catch {
      // someone else took it over first; look again
    }
  }
  throw new DataDirInUse(`Could not claim the data folder ${folder}; try again`);
}

function readHolder(path: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, "utf8")) as Holder;
    return typeof holder.pid === "number" ? holder : undefined;
  } catch {
    return undefined; // unreadable or half-written: treated as left over
  }
}
