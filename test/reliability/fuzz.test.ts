import { expect, test } from "bun:test";
import { useHarness } from "../helpers/app";

/**
 * A fuzzer driven by the OpenAPI document: for every operation it sends malformed requests
 * (wrong types, missing fields, huge and odd unicode strings, bad JSON, wrong content types,
 * tag/path injection in ids). No answer may be a 5xx, and every error must be the JSON shape.
 */
const h = useHarness({ RATE_LIMIT_REQUESTS: "1000000", MAX_BODY_BYTES: "262144" });

type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[]; items?: Schema; anyOf?: Schema[]; enum?: unknown[]; const?: unknown; minimum?: number; examples?: unknown[] };

const ODD = [
  "*", "{", "}", "|", "@", "\\", "-", ":", " ", "a b", "x*y", "@tenant:{a|b}", "(a)", "$(rm -rf /)", "' OR 1=1 --", "../../etc/passwd",
  "%00", "%2F..%2F", "\u202e\u0631\u062a", "👩‍👩‍👧‍👦", "\uffff", "\ud800", "é".repeat(3), "\u0000", "\u001f", "a".repeat(129), "null", "undefined", "",
];
const HUGE = ["x".repeat(200_000), "😀".repeat(40_000)];
const WRONG = [0, -1, 1.5, 1e308, true, null, [], {}, [1, 2], { $gt: "" }, "0", "NaN", "1e999"];

function seeded(seed: number) {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}
const rnd = seeded(7);
/** encodeURIComponent, but a lone surrogate becomes raw invalid UTF-8 bytes (a fuzz case of its own). */
const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return "%ED%A0%80";
  }
};
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];

function sample(schema: Schema | undefined): unknown {
  if (!schema) return "x";
  if (schema.examples?.length) return schema.examples[0];
  if (schema.const !== undefined) return schema.const;
  if (schema.anyOf) return sample(schema.anyOf.find((s) => s.type !== "null") ?? schema.anyOf[0]);
  switch (schema.type) {
    case "object":
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, sample(v)]));
    case "array":
      return [sample(schema.items)];
    case "number":
    case "integer":
      return schema.minimum ?? 1;
    case "boolean":
      return true;
    default:
      return "sample";
  }
}

/** The document with every `$ref` replaced by the component it names (components do not refer to themselves). */
function inline(value: unknown, schemas: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => inline(v, schemas));
  if (!value || typeof value !== "object") return value;
  const { $ref } = value as { $ref?: unknown };
  if (typeof $ref === "string") return inline(schemas[$ref.slice($ref.lastIndexOf("/") + 1)], schemas);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inline(v, schemas)]));
}

function mutations(schema: Schema): unknown[] {
  const base = sample(schema) as Record<string, unknown>;
  const out: unknown[] = [base, {}, [], null, "string", 42, [base]];
  if (schema.type !== "object" || !schema.properties) return out;
  for (const key of Object.keys(schema.properties)) {
    const { [key]: _, ...without } = base;
    out.push(without);
    for (const v of WRONG) out.push({ ...base, [key]: v });
    for (const v of ODD) out.push({ ...base, [key]: v });
    for (const v of HUGE) out.push({ ...base, [key]: v });
    const child = schema.properties[key];
    if (child.type === "array" && child.items?.type === "object") {
      for (const inner of mutations(child.items).slice(0, 40)) out.push({ ...base, [key]: [inner, inner] });
      out.push({ ...base, [key]: Array.from({ length: 1001 }, () => sample(child.items)) });
    }
  }
  return out;
}

test("thousands of malformed requests from the OpenAPI document: no 5xx, always the JSON error shape", async () => {
  const { token } = await h.account();
  const document = (await h.json("GET", "/docs/json")).body as { paths: unknown; components: { schemas: Record<string, unknown> } };
  const spec = { paths: inline(document.paths, document.components.schemas) } as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema: Schema }> }; parameters?: { name: string; in: string; schema: Schema }[] }>> };
  const requests: { method: string; path: string; body?: string; headers: Record<string, string> }[] = [];
  for (const [template, operations] of Object.entries(spec.paths)) {
    if (template.startsWith("/docs")) continue;
    for (const [method, op] of Object.entries(operations)) {
      const upper = method.toUpperCase();
      const params = op.parameters ?? [];
      const query = params.filter((p) => p.in === "query");
      const fill = (value: (name: string) => string) => template.replace(/\{(\w+)\}/g, (_, name: string) => enc(value(name)));
      const goodQuery = () => new URLSearchParams(Object.fromEntries(query.map((p) => [p.name, String(sample(p.schema))]))).toString();
      for (const odd of [...ODD, ...HUGE.map((s) => s.slice(0, 5000))]) {
        const path = fill(() => odd);
        requests.push({ method: upper, path: `${path}?${goodQuery()}`, headers: { authorization: `Bearer ${token}` } });
      }
      for (const p of query) {
        for (const v of [...ODD, ...WRONG.map(String), HUGE[0].slice(0, 20_000)]) {
          const qs = new URLSearchParams(Object.fromEntries(query.map((q) => [q.name, q === p ? String(v) : String(sample(q.schema))])));
          requests.push({ method: upper, path: `${fill(() => "c1")}?${qs}`, headers: { authorization: `Bearer ${token}` } });
        }
        const missing = new URLSearchParams(Object.fromEntries(query.filter((q) => q !== p).map((q) => [q.name, String(sample(q.schema))])));
        requests.push({ method: upper, path: `${fill(() => "c1")}?${missing}`, headers: { authorization: `Bearer ${token}` } });
      }
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      if (!schema) continue;
      const path = `${fill(() => "c1")}?${goodQuery()}`;
      const auth = { authorization: `Bearer ${token}` };
      for (const body of mutations(schema)) {
        requests.push({ method: upper, path, body: JSON.stringify(body), headers: { ...auth, "content-type": "application/json" } });
        const extra = body && typeof body === "object" && !Array.isArray(body) ? { ...body, [pick(ODD) || "k"]: pick(ODD), __proto__x: { a: pick(WRONG) } } : [body, body];
        requests.push({ method: upper, path, body: JSON.stringify(extra), headers: { ...auth, "content-type": "application/json; charset=utf-8" } });
      }
      for (const raw of ['{"a":', "{'single': 1}", "\u0000\u0001", "[".repeat(5000), '{"tenant_id": "\\ud800"}', "true", ""])
        requests.push({ method: upper, path, body: raw, headers: { ...auth, "content-type": "application/json" } });
      const good = JSON.stringify(sample(schema));
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", ""])
        requests.push({ method: upper, path, body: good, headers: { ...auth, ...(type ? { "content-type": type } : {}) } });
      requests.push({ method: upper, path, body: good, headers: { "content-type": "application/json", authorization: pick(["Bearer ", "Bearer x.y.z", "Basic YTpi", "", "Bearer \u00ff"]) } });
      requests.push({ method: upper, path, body: good, headers: { "content-type": "application/json", "x-api-key": pick(["mm_", "mm_zzzz_yyyy", "*", `mm_0123456789abcdef_${"a".repeat(40)}`]) } });
      requests.push({ method: upper, path, body: "x".repeat(300_000), headers: { ...auth, "content-type": "application/json" } });
    }
  }
  expect(requests.length).toBeGreaterThan(2000);

  const failures: string[] = [];
  const started = Date.now();
  let sent = 0;
  for (const r of requests) {
    if (Date.now() - started > 120_000) break;
    sent++;
    const res = await h.app.handle(new Request(`http://localhost${r.path}`, { method: r.method, headers: r.headers, body: r.body }));
    const text = await res.text();
    if (res.status >= 500) failures.push(`${res.status} ${r.method} ${r.path.slice(0, 120)} ${String(r.body).slice(0, 120)} -> ${text.slice(0, 200)}`);
    else if (res.status >= 400) {
      let body: { message?: unknown; code?: unknown } | undefined;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (typeof body?.message !== "string" || typeof body?.code !== "string") failures.push(`bad error shape ${res.status} ${r.method} ${r.path.slice(0, 80)}: ${text.slice(0, 200)}`);
    }
  }
  process.stderr.write(`[fuzz] ${sent} requests in ${Date.now() - started} ms, ${failures.length} failures\n`);
  expect(failures.slice(0, 20)).toEqual([]);
  expect(sent).toBeGreaterThan(2000);
}, 200_000);
