import dc from "node:diagnostics_channel";

/**
 * Bun 1.4's TracingChannel has no `hasSubscribers` getter (oven-sh/bun#27805; Node has it since
 * 20.13). ioredis 6 treats `undefined` as "maybe subscribed" and wraps every command in a traced
 * promise with its arguments sanitised by regular expressions: on the ingest path that was a
 * sizeable share of each request's CPU with nobody listening. This adds Node's own definition
 * (any of the five channels has a subscriber) where the getter is missing; a runtime that has it
 * is left alone.
 */
const proto = Object.getPrototypeOf(dc.tracingChannel("memory-mesh:probe")) as object;
if (!("hasSubscribers" in proto)) {
  Object.defineProperty(proto, "hasSubscribers", {
    configurable: true,
    get(this: Record<"start" | "end" | "asyncStart" | "asyncEnd" | "error", { hasSubscribers: boolean }>) {
      return (
        this.start.hasSubscribers || this.end.hasSubscribers || this.asyncStart.hasSubscribers ||
        this.asyncEnd.hasSubscribers || this.error.hasSubscribers
      );
    },
  });
}
