import type { FieldError } from "../http/error-response";

/**
 * ISO-8601 as clients send it: a date (`2026-11-01`, midnight UTC) or a date-time with a `Z` or
 * `±hh:mm` offset, seconds and fractions optional. A date-time without an offset is refused: it
 * would mean the server's local time.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2}))?$/;

/** Milliseconds since the epoch, or undefined for anything that is not a valid ISO-8601 timestamp. */
export function parseTimestamp(text: string): number | undefined {
  const match = ISO_8601.exec(text);
  if (!match) return undefined;
  const [, , month, day, hour, minute, second] = match;
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > 31) return undefined;
  if (hour !== undefined && (Number(hour) > 23 || Number(minute) > 59 || Number(second ?? 0) > 59)) return undefined;
  const ms = Date.parse(text.replace(" ", "T"));
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March: refuse dates that do not exist.
  if (new Date(ms + offsetMs(text)).getUTCDate() !== Number(day)) return undefined;
  return ms;
}

/** The offset written in a timestamp, so its calendar day can be checked as written. */
function offsetMs(text: string): number {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (!m || !/[Tt ]/.test(text)) return 0;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

/**
 * The given ISO-8601 fields of a request (filters such as `created_after`) in ms, absent ones left
 * out; each unreadable one is named in `problems`, for the caller's 400.
 */
export function timeFields<K extends string>(source: { [F in K]?: string | null }, fields: readonly K[], problems: FieldError[]): { [F in K]?: number } {
  const out: { [F in K]?: number } = {};
  for (const field of fields) {
    const text = source[field];
    if (text == null) continue;
    const ms = parseTimestamp(text);
    if (ms === undefined) problems.push({ field, message: "Expected an ISO-8601 date-time such as 2026-11-01T00:00:00Z" });
    else out[field] = ms;
  }
  return out;
}
