import { unwrapSchema } from "@elysiajs/openapi/openapi";
import type { TSchema } from "elysia";
import { STATUS_TEXT } from "./schemas";

/**
 * What @elysiajs/openapi generates from the route schemas is refined here into a document that
 * linters accept and client generators type well. Only the document changes: validation still
 * runs on the route schemas as they are.
 *
 * - Elysia's `t.Numeric`, `t.Integer` and `t.BooleanString` are unions of the value and its text
 *   form (`"5"`, `"true"`) so that query strings can be coerced. The text form is how a value
 *   travels in a query string, not another type: the document states the value's type alone
 *   (the server still accepts the text form in a JSON body, a leniency clients need not know).
 *   A number that must be a multiple of 1 is written as an integer (the same set of values).
 * - `error` (the custom message Elysia reports when validation fails) is not a JSON Schema keyword.
 * - A schema equal to a named component becomes a `$ref` to it, so clients get one `Message`
 *   type instead of a copy per route. Equal means the same JSON, compared after the steps above.
 * - The plugin's placeholder descriptions ("Response for status 200") become the status's meaning.
 */

type Json = Record<string, unknown>;
type Operation = { responses?: Record<string, Json>; parameters?: Json[]; requestBody?: { content?: Record<string, Json> } };

/** Keywords whose value is a map of schemas, a list of schemas, or one schema (JSON Schema 2020-12). */
const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "dependentSchemas"];
const SCHEMA_LISTS = ["anyOf", "oneOf", "allOf", "prefixItems"];
const SCHEMA_VALUES = ["items", "additionalProperties", "unevaluatedProperties", "contains", "not", "if", "then", "else", "propertyNames"];
/** Formats of the text form Elysia adds beside a number or boolean. */
const TEXT_FORMS = new Set(["numeric", "integer", "boolean"]);

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** The schema with `fn` applied to each of its direct subschemas. */
function mapChildren(schema: Json, fn: (child: unknown) => unknown): Json {
  const out: Json = { ...schema };
  for (const key of SCHEMA_MAPS)
    if (isObject(out[key])) out[key] = Object.fromEntries(Object.entries(out[key]).map(([name, child]) => [name, fn(child)]));
  for (const key of SCHEMA_LISTS) if (Array.isArray(out[key])) out[key] = out[key].map(fn);
  for (const key of SCHEMA_VALUES) if (isObject(out[key])) out[key] = fn(out[key]);
  return out;
}

/** Applies `fn` to every subschema, children first. */
const mapSchema = (schema: unknown, fn: (schema: Json) => Json): unknown =>
  isObject(schema) ? fn(mapChildren(schema, (child) => mapSchema(child, fn))) : schema;

const isTextForm = (s: unknown) => isObject(s) && s.type === "string" && TEXT_FORMS.has(s.format as string);

function canonicalNode(schema: Json): Json {
  let out: Json = { ...schema };
  delete out.error;
  const branches = Array.isArray(out.anyOf) ? out.anyOf : [];
  const values = branches.filter((b) => !isTextForm(b));
  if (values.length < branches.length) {
    delete out.anyOf;
    // The union's own keywords (description, range, default) are repeated on its value branch.
    out = values.length === 1 && isObject(values[0]) ? { ...out, ...values[0] } : { ...out, anyOf: values };
  }
  if ((out.type === "number" || out.type === "integer") && out.multipleOf === 1) {
    delete out.multipleOf;
    out.type = "integer";
  }
  return out;
}

/** A schema as the document states it: no text forms of numbers and booleans, no `error` keyword. */
export const canonicalSchema = (schema: unknown): unknown => mapSchema(schema, canonicalNode);

/** JSON with sorted keys, so that equal schemas give equal strings. */
function stableKey(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableKey).join(",")}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableKey(value[k])}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

/** Replaces each subschema equal to a component with a `$ref`, outermost first; the root is kept when `keepRoot`. */
function refer(schema: unknown, byKey: Map<string, string>, keepRoot = false): unknown {
  if (!isObject(schema)) return schema;
  const name = keepRoot ? undefined : byKey.get(stableKey(schema));
  return name ? { $ref: `#/components/schemas/${name}` } : mapChildren(schema, (child) => refer(child, byKey));
}

const PLACEHOLDER = /^Response for status (\d+)$/;

/**
 * Refines the plugin's `paths` and builds `components.schemas` from the named schemas (see the
 * top of this file). WebSocket routes (method `ws`, which OpenAPI does not have) are moved out of
 * `paths` into `websockets`, keyed by path, with their parameters refined the same way.
 */
export function refineDocument(paths: Record<string, Record<string, Operation>>, named: Record<string, TSchema>, version: "3.1.2") {
  const schemas = Object.fromEntries(Object.entries(named).map(([name, schema]) => [name, canonicalSchema(unwrapSchema(schema, undefined, "output", version))]));
  const byKey = new Map<string, string>();
  for (const [name, schema] of Object.entries(schemas)) if (!byKey.has(stableKey(schema))) byKey.set(stableKey(schema), name);
  const state = (schema: unknown) => refer(canonicalSchema(schema), byKey);

  const refined: typeof paths = {};
  const websockets: Record<string, Operation> = {};
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const op = refineOperation(operation, state);
      if (method === "ws") websockets[path] = op;
      else refined[path] = { ...refined[path], [method]: op };
    }
  }
  const components = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, refer(schema, byKey, true)]));
  return { paths: refined, websockets, schemas: components };
}

function refineOperation(operation: Operation, state: (schema: unknown) => unknown): Operation {
  const op: Operation = { ...operation };
  if (op.parameters) op.parameters = op.parameters.map((p) => ({ ...p, schema: state(p.schema) }));
  if (op.requestBody?.content) op.requestBody = { ...op.requestBody, content: mapContent(op.requestBody.content, state) };
  if (op.responses)
    op.responses = Object.fromEntries(
      Object.entries(op.responses).map(([status, response]) => {
        const placeholder = PLACEHOLDER.exec(String(response.description ?? ""));
        const description = placeholder ? (STATUS_TEXT[Number(placeholder[1])] ?? response.description) : response.description;
        const content = isObject(response.content) ? { content: mapContent(response.content as Record<string, Json>, state) } : {};
        return [status, { ...response, description, ...content }];
      }),
    );
  return op;
}

function mapContent(content: Record<string, Json>, fn: (schema: unknown) => unknown): Record<string, Json> {
  return Object.fromEntries(Object.entries(content).map(([type, media]) => [type, { ...media, schema: fn(media.schema) }]));
}
