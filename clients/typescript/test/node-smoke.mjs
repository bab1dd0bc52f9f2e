// The built package on Node (run by package.test.ts):
//   node --experimental-websocket test/node-smoke.mjs <dist/index.js> <base url> <email> <password>
// Prints one JSON line describing what worked.
const [entry, baseUrl, email, password] = process.argv.slice(2);
const { MemoryMeshClient, MemoryMeshError } = await import(entry);

const client = await MemoryMeshClient.login({ baseUrl, email, password });
const stream = client.events("node");
await stream.opened;
const stored = await client.messages.store({ tenant_id: "node", conversation_id: "c", role: "user", content: "stored from Node" });
const events = [];
for await (const event of stream) {
  events.push(event.type);
  if (event.type === "message.indexed" && event.message.id === stored.id) break;
}
const [indexed] = await client.messages.waitForIndexed(stored);
const { results } = await client.search({ tenant_id: "node", query: "stored from Node" });
let missing = "none";
try {
  await client.messages.get("missing");
} catch (error) {
  missing = error instanceof MemoryMeshError ? `${error.status} ${error.code}` : String(error);
}
const exported = [];
for await (const line of client.tenants.export("node")) exported.push(line.type);
async function* lines() {
  yield { type: "message", id: "from-node", conversation_id: "c", role: "user", content: "imported from Node" };
}
const report = await client.tenants.import("copy", lines());
console.log(JSON.stringify({ events, status: indexed.status, found: results[0]?.id === stored.id, missing, exported, imported: report.imported }));
