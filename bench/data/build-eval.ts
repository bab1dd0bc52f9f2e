/**
 * Builds bench/data/eval.json (the format bench/retrieval.ts reads) from conversations in the
 * LoCoMo layout: REALTALK (github.com/danny911kr/REALTALK, data/Chat_*.json), the evaluation set we
 * tune on, or LoCoMo itself (the held-out set: never tune on it). Neither licence lets us commit
 * the data, so this script is what we commit.
 *
 *   bun run bench/data/build-eval.ts realtalk /path/to/REALTALK/data [out.json]
 *   bun run bench/data/build-eval.ts locomo /path/to/locomo10-split-dir [out.json]
 *
 * Evidence ids are normalised ("D12:3-D12:5", "D5:12;D5:16", "D5:3." are written in the data),
 * ids that match no turn are dropped, and a question left without evidence is left out (counted).
 * A turn's text is `clean_text` (REALTALK) or `text` (LoCoMo), plus `[shares a photo: caption]`.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const KINDS: Record<string, Record<number, string>> = {
  realtalk: { 1: "multi-hop", 2: "temporal", 3: "commonsense" },
  locomo: { 1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial" },
};

type RawTurn = { dia_id: string; speaker: string; clean_text?: string; text?: string; date_time?: string; blip_caption?: string };
type RawQa = { question: string; evidence?: unknown; category: number };

/** "29.12.2023, 22:42:04" (REALTALK) or "1:56 pm on 8 May, 2023" (LoCoMo) as ISO-8601 UTC. */
function isoOf(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const dotted = /^(\d{1,2})\.(\d{1,2})\.(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?/.exec(text);
  if (dotted) {
    const [, d, m, y, hh, mm, ss] = dotted;
    return new Date(Date.UTC(+y, +m - 1, +d, +hh, +mm, +(ss ?? 0))).toISOString();
  }
  const spoken = /^(\d{1,2}):(\d{2})\s*(am|pm) on (\d{1,2}) (\w+),? (\d{4})/i.exec(text);
  if (spoken) {
    const [, h, mm, ampm, d, month, y] = spoken;
    const m = new Date(`${month} 1, 2000`).getMonth();
    const hour = (+h % 12) + (ampm.toLowerCase() === "pm" ? 12 : 0);
    return new Date(Date.UTC(+y, m, +d, hour, +mm)).toISOString();
  }
  return undefined;
}

/** Evidence as written, turned into turn ids: lists, ranges within a session, stray dots. */
function evidenceIds(raw: unknown): string[] {
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((e) => String(e ?? "").split(/[;,\s]+/));
  const out: string[] = [];
  for (const part of parts) {
    const p = part.replace(/\.+$/, "").trim();
    const range = /^D(\d+):(\d+)-(?:D(\d+):)?(\d+)$/.exec(p);
    if (range && (range[3] === undefined || range[3] === range[1])) {
      for (let t = +range[2]; t <= +range[4] && t - +range[2] < 50; t++) out.push(`D${range[1]}:${t}`);
    } else if (p) out.push(p);
  }
  return out;
}

const [source, dir, outPath = new URL("./eval.json", import.meta.url).pathname] = process.argv.slice(2);
if (!source || !KINDS[source] || !dir) {
  console.error("usage: bun run bench/data/build-eval.ts realtalk|locomo <dir of conversation JSON files> [out.json]");
  process.exit(2);
}
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
const conversations: { id: string; turns: { id: string; speaker: string; text: string; created_at: string }[] }[] = [];
const questions: { id: string; conversation: string; question: string; kind: string; evidence: string[] }[] = [];
let dropped = 0;
let droppedRefs = 0;
for (const [n, file] of files.entries()) {
  const data = await Bun.file(join(dir, file)).json();
  const root = data.conversation ?? data; // LoCoMo nests sessions under `conversation`
  const id = `c${n + 1}`;
  const turns: (typeof conversations)[number]["turns"] = [];
  const sessions = Object.keys(root).filter((k) => /^session_\d+$/.test(k)).sort((a, b) => +a.slice(8) - +b.slice(8));
  for (const session of sessions) {
    const sessionTime = isoOf(root[`${session}_date_time`]);
    for (const t of root[session] as RawTurn[]) {
      const text = `${t.clean_text ?? t.text ?? ""}${t.blip_caption ? ` [shares a photo: ${t.blip_caption}]` : ""}`.trim();
      const created = isoOf(t.date_time) ?? sessionTime;
      if (!text || !created) continue;
      turns.push({ id: `${id}-${t.dia_id}`, speaker: t.speaker, text, created_at: created });
    }
  }
  const known = new Set(turns.map((t) => t.id));
  for (const [q, qa] of (data.qa as RawQa[]).entries()) {
    const refs = evidenceIds(qa.evidence).map((e) => `${id}-${e}`);
    const evidence = [...new Set(refs.filter((r) => known.has(r)))];
    droppedRefs += refs.length - refs.filter((r) => known.has(r)).length;
    if (evidence.length === 0 || !KINDS[source][qa.category]) {
      dropped++;
      continue;
    }
    questions.push({ id: `${id}-q${q + 1}`, conversation: id, question: qa.question, kind: KINDS[source][qa.category], evidence });
  }
  conversations.push({ id, turns });
}
await Bun.write(outPath, JSON.stringify({ name: source, source: dir, conversations, questions }));
const kinds = new Map<string, number>();
for (const q of questions) kinds.set(q.kind, (kinds.get(q.kind) ?? 0) + 1);
console.log(
  `${outPath}: ${conversations.length} conversations, ${conversations.reduce((s, c) => s + c.turns.length, 0)} turns, ` +
    `${questions.length} questions (${[...kinds].map(([k, v]) => `${k} ${v}`).join(", ")}); left out ${dropped} questions without evidence, ${droppedRefs} evidence ids matching no turn`,
);
