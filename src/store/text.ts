import { stem } from "porter2";

/**
 * The one tokenizer of keyword search, shared by both engines so they rank alike.
 *
 * A token is a run of letters, digits, combining marks and `_` (Unicode-aware), lower-cased after
 * NFKC normalisation; every other character separates tokens. That makes every character of the
 * Redis query syntax (`"`, `@`, `|`, `-`, `*`, `{`, `(`, `~`, `%`, ...) a separator, so user text
 * can never be parsed as query syntax. The Query Engine is given our tokens joined by spaces (the
 * `text` field) and stems them itself with Snowball English; the exact engine stems with Porter2,
 * the same algorithm. Stopwords are RediSearch's default English list (33 function words) on both:
 * BM25's IDF already weighs frequent words down, and a longer list would drop words such as "when"
 * or "where" that carry a question's intent.
 */
const TOKEN = /[\p{L}\p{N}\p{M}_]+/gu;
const ASCII_WORD = /^[a-z]+$/;
/** Control characters (the Query Engine's tag separator among them) never reach a tag. */
const CONTROL = /[\u0000-\u001f\u007f]/;

export const STOPWORDS: ReadonlySet<string> = new Set(
  "a is the an and are as at be but by for if in into it no not of on or such that their then there these they this to was will with".split(" "),
);

/**
 * Dropped from queries only: question words, auxiliaries and pronouns. Memory searches are mostly
 * questions ("when did you ...?", "what is my ...?"), and these words match half of any chat while
 * naming nothing; on the evaluation set, dropping them raised keyword recall@5 from 0.407 to
 * 0.457 (docs/benchmarks.md). Messages keep them (a query may still match "who" in a message by
 * semantic search).
 */
export const QUERY_STOPWORDS: ReadonlySet<string> = new Set(
  "what when where who whom whose which why how do does did doing done has have had i you he she we me my mine your yours his her hers our ours us them its can could would should ever".split(" "),
);

/** Longest token kept (longer runs are cut); the Query Engine refuses very long terms. */
const MAX_TOKEN_CHARS = 64;
/** Most distinct terms taken from one query: a pasted document does not become a 1,000-way OR. */
export const MAX_QUERY_TERMS = 32;

/** Lower-cased, normalised tokens of a text, stopwords removed, in order. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const match of text.normalize("NFKC").toLowerCase().matchAll(TOKEN)) {
    const token = match[0].length > MAX_TOKEN_CHARS ? match[0].slice(0, MAX_TOKEN_CHARS) : match[0];
    if (!STOPWORDS.has(token)) out.push(token);
  }
  return out;
}

const STEM_CACHE_SIZE = 50_000;
const stems = new Map<string, string>();

/**
 * The term a token is matched by: Porter2 (Snowball English) stem for plain ASCII words, else the
 * token. Remembered (a chat's vocabulary is small, and the Query Engine path stems every word of
 * each keyword candidate).
 */
export function termOf(token: string): string {
  if (!ASCII_WORD.test(token)) return token;
  let term = stems.get(token);
  if (term === undefined) {
    term = stem(token);
    if (stems.size >= STEM_CACHE_SIZE) stems.clear();
    stems.set(token, term);
  }
  return term;
}

/** Term frequencies and length (tokens after stopwords) of a document, for exact BM25. */
export function termFrequencies(text: string): { terms: Record<string, number>; length: number } {
  const tokens = tokenize(text);
  const terms: Record<string, number> = {};
  for (const token of tokens) {
    const term = termOf(token);
    terms[term] = (terms[term] ?? 0) + 1;
  }
  return { terms, length: tokens.length };
}

/**
 * A query's tokens (at most MAX_QUERY_TERMS), one per term (so "dog dogs" asks for "dog" once, on
 * both engines), in order of first appearance, without QUERY_STOPWORDS.
 */
export function queryTokens(query: string): string[] {
  const byTerm = new Map<string, string>();
  for (const token of tokenize(query)) {
    if (QUERY_STOPWORDS.has(token)) continue;
    const term = termOf(token);
    if (!byTerm.has(term)) byTerm.set(term, token);
    if (byTerm.size >= MAX_QUERY_TERMS) break;
  }
  return [...byTerm.values()];
}

/**
 * Metadata filter tokens: one `key=value` per top-level scalar (string, finite number, boolean).
 * Objects, arrays and null are not indexed; neither are keys or values over 256 characters.
 */
export function metadataTags(metadata: Record<string, unknown> | null | undefined): string[] {
  if (!metadata) return [];
  const tags: string[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    const scalar = scalarText(value);
    if (scalar === undefined || key.length > 256 || scalar.length > 256 || CONTROL.test(key) || CONTROL.test(scalar)) continue;
    tags.push(`${key}=${scalar}`);
  }
  return tags;
}

export function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Content as compared when collapsing duplicates: whitespace runs as one space, case folded. */
export function collapseKey(content: string): string {
  return content.normalize("NFKC").replace(/\s+/g, " ").trim().toLowerCase();
}
