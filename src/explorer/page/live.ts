import type { MessageEvent } from "../../events/model";
import { checkSession, socketProtocols } from "./api";

export type LiveState = "connecting" | "live" | "offline";

export interface LiveHandlers {
  event(event: MessageEvent): void;
  state(state: LiveState, why?: string): void;
  /** The socket is open again after a break: events may have been missed, so reload what is shown. */
  resumed(): void;
}

/** Close codes after which reconnecting cannot help (see the README's WebSocket section). */
const FINAL: Record<number, string> = { 4002: "the API key was revoked", 4003: "the account was deleted" };
const MAX_BACKOFF_MS = 30_000;

/**
 * The tenant's event stream (`/ws/messages/{tenant}`), with the credential offered as a subprotocol,
 * reconnected with backoff after a break. A socket that fails to open may have met an expired token
 * (a browser cannot see the 401): the session is checked, which refreshes it, before trying again.
 */
export function followTenant(tenant: string, handlers: LiveHandlers): { close(): void } {
  let socket: WebSocket | null = null;
  let stopped = false;
  let failures = 0;
  let everOpen = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/messages/${encodeURIComponent(tenant)}`;

  const retry = (why: string) => {
    handlers.state("offline", why);
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 5));
    failures++;
    timer = setTimeout(async () => {
      if (stopped) return;
      try {
        await checkSession();
      } catch {
        // The API said why (shown by whoever made the request); a session that ended stops us from outside.
      }
      if (!stopped) open();
    }, delay);
  };

  const open = () => {
    handlers.state("connecting");
    let opened = false;
    const current = new WebSocket(url, socketProtocols());
    socket = current;
    current.onopen = () => {
      opened = true;
      failures = 0;
      handlers.state("live");
      if (everOpen) handlers.resumed();
      everOpen = true;
    };
    current.onmessage = (message) => {
      try {
        handlers.event(JSON.parse(String(message.data)) as MessageEvent);
      } catch {
        // Not an event: ignored.
      }
    };
    current.onclose = (close) => {
      if (stopped || socket !== current) return;
      if (FINAL[close.code]) return handlers.state("offline", FINAL[close.code]);
      // 4001: its credential expired; the check before reconnecting refreshes it.
      retry(opened ? (close.reason || "connection lost") : "could not connect");
    };
  };

  open();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000, "closed by the page");
    },
  };
}
