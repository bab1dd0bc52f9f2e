import { validationFailed } from "../errors";
import type { FieldError } from "../http/error-response";
import { given } from "../http/schemas";
import { timeFields } from "../messages/timestamps";
import { scalarText } from "../store/text";
import { type SearchBody, SearchQuery } from "./model";
import type { SearchInput } from "./search";

type Scalar = string | number | boolean;

const SEARCH_PARAMETERS = new Set(Object.keys(SearchQuery.properties));
/** What other APIs call these parameters. */
const SEARCH_ALIASES: Record<string, string> = {
  limit: "top_k", k: "top_k", n: "top_k", topk: "top_k", size: "top_k", q: "query", text: "query",
  tenant: "tenant_id", conversation: "conversation_id", roles: "role", after: "created_after", before: "created_before",
};

/**
 * A `transform` hook for GET search: a parameter it does not know is a 400 naming it (and the
 * right one, e.g. `limit` -> `top_k`), never silently ignored.
 */
export function refuseUnknownSearchParameters({ query }: { query: Record<string, unknown> }): void {
  const problems: FieldError[] = Object.keys(query)
    .filter((name) => !SEARCH_PARAMETERS.has(name))
    .map((name) => ({
      field: name,
      message: SEARCH_ALIASES[name] ? `Unknown parameter; use ${SEARCH_ALIASES[name]}` : `Unknown parameter; known: ${[...SEARCH_PARAMETERS].join(", ")}`,
    }));
  if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
}

/** GET's `metadata` is JSON text: an object of scalars. */
function parseMetadataFilter(text: string, problems: FieldError[]): Record<string, Scalar> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push({ field: "metadata", message: "Expected a JSON object such as {\"source\":\"web\"}" });
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push({ field: "metadata", message: "Expected a JSON object" });
    return undefined;
  }
  for (const [key, v] of Object.entries(value)) {
    if (scalarText(v) === undefined) problems.push({ field: `metadata.${key}`, message: "Expected a string, number or boolean" });
  }
  return value as Record<string, Scalar>;
}

/**
 * The service's input from GET's query string or POST's body (the same fields; GET carries
 * `role` as a comma list and `metadata` as JSON). Checks what the schema cannot, naming each field:
 * timestamps, the metadata filter's values, and that the signal weights leave room for relevance.
 */
export function toSearchInput(source: SearchQuery | SearchBody): SearchInput {
  const problems: FieldError[] = [];
  if (source.query.trim() === "") problems.push({ field: "query", message: "Must contain something other than spaces" });
  const role = given(source.role);
  const roles = role === undefined ? undefined : Array.isArray(role) ? role : role.split(",");
  const metadata =
    source.metadata === undefined ? undefined : typeof source.metadata === "string" ? parseMetadataFilter(source.metadata, problems) : source.metadata;
  const { created_after: createdAfter, created_before: createdBefore } = timeFields(source, ["created_after", "created_before"], problems);
  const recencyWeight = source.recency_weight ?? 0;
  const importanceWeight = source.importance_weight ?? 0;
  if (recencyWeight + importanceWeight > 1)
    problems.push({ field: "recency_weight", message: "recency_weight + importance_weight must be at most 1" });
  if (problems.length > 0) throw validationFailed(`Invalid request: ${problems.map((p) => p.field).join(", ")}`, problems);
  return {
    tenant: source.tenant_id,
    query: source.query,
    topK: source.top_k,
    mode: source.mode,
    conversation: source.conversation_id,
    roles: roles ? [...new Set(roles)] : undefined,
    minImportance: source.min_importance,
    createdAfter,
    createdBefore,
    metadata,
    minScore: source.min_score,
    recencyWeight,
    recencyHalfLifeDays: source.recency_half_life_days,
    importanceWeight,
    explain: source.explain,
    context: source.context,
  };
}
