/** A local webhook receiver: records every request; what it answers is up to the test. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  type: string;
  data: Record<string, any>;
  headers: Record<string, string>;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** What the next requests are answered (default 204); may wait on the test. */
  answer: (request: Received) => Response | Promise<Response>;
  stop(): void;
}

export function startReceiver(): Receiver {
  const receiver = { received: [] as Received[], answer: (() => new Response(null, { status: 204 })) as Receiver["answer"] } as Receiver;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = await request.text();
      const parsed = JSON.parse(body || "{}");
      const got: Received = {
        id: request.headers.get("webhook-id") ?? "",
        timestamp: request.headers.get("webhook-timestamp") ?? "",
        signature: request.headers.get("webhook-signature") ?? "",
        body,
        type: parsed.type,
        data: parsed.data,
        headers: Object.fromEntries(request.headers),
      };
      receiver.received.push(got);
      return receiver.answer(got);
    },
  });
  receiver.url = `http://127.0.0.1:${server.port}/hook`;
  receiver.stop = () => server.stop(true);
  return receiver;
}
