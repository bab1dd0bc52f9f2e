import { Elysia, t } from "elysia";
import { assertTenant, authenticate, credentialsOf, offeredSubprotocols, WS_SUBPROTOCOL } from "../auth/credentials";
import type { Deps } from "../deps";
import { ConversationId, TenantId } from "../http/schemas";
import type { Realtime, Subscriber } from "./hub";

/**
 * `GET /ws/messages/{tenant_id}`: credentials by header; browsers, which cannot set headers, offer
 * the `memory-mesh` subprotocol with a `bearer.` / `apikey.` entry (see WS_SUBPROTOCOL; the answer
 * selects `memory-mesh`), or pass `token` / `api_key` query parameters. The upgrade is refused with
 * 401 or 403 before any socket exists.
 */
export function realtimeRoutes(deps: Deps, realtime: Realtime) {
  const subs = new WeakMap<object, Subscriber>();
  return new Elysia({ tags: ["Realtime"] })
    .derive(async ({ request, params }) => {
      const principal = await authenticate(deps, credentialsOf(request, true));
      const tenant = (params as { tenant_id?: string }).tenant_id;
      if (tenant !== undefined) assertTenant(principal, tenant, "read");
      return { principal };
    })
    .ws("/ws/messages/:tenant_id", {
      params: t.Object({ tenant_id: TenantId }),
      query: t.Object({
        conversation_id: t.Optional(ConversationId),
        token: t.Optional(t.String()),
        api_key: t.Optional(t.String()),
      }),
      detail: {
        operationId: "streamMessageEvents",
        summary: "Event stream of a tenant (message.created / indexed / failed / updated / deleted)",
        description: "Each frame is a `MessageEvent` as JSON. The upgrade is refused with 401 or 403 before any socket exists.",
        "x-message": { $ref: "#/components/schemas/MessageEvent" },
      },
      // A browser fails the handshake unless the answer selects one of the subprotocols it offered.
      upgrade({ request, set }) {
        if (offeredSubprotocols(request).includes(WS_SUBPROTOCOL)) set.headers["sec-websocket-protocol"] = WS_SUBPROTOCOL;
      },
      open(ws) {
        const { principal, params, query } = ws.data;
        const sub: Subscriber = {
          account: principal.account,
          tenant: params.tenant_id,
          conversation: query.conversation_id,
          keyId: principal.keyId,
          expiresAt: principal.expiresAt,
          send: (data) => ws.send(data),
          close: (code, reason) => ws.close(code, reason),
        };
        subs.set(ws.raw, sub);
        realtime.add(sub);
      },
      close(ws) {
        const sub = subs.get(ws.raw);
        if (sub) realtime.remove(sub);
      },
      message() {
        // Clients only listen; pings and pongs are handled by the server.
      },
    });
}
