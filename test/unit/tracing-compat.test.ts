import { expect, test } from "bun:test";
import dc from "node:diagnostics_channel";
import "../../src/store/redis";

test("TracingChannel.hasSubscribers is false until someone subscribes (ioredis then skips tracing)", () => {
  const channel = dc.tracingChannel("ioredis:command");
  expect(channel.hasSubscribers).toBe(false);
  const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  channel.subscribe(handlers);
  expect(channel.hasSubscribers).toBe(true);
  channel.unsubscribe(handlers);
  expect(channel.hasSubscribers).toBe(false);
  const onlyErrors = { error() {} };
  channel.subscribe(onlyErrors as never);
  expect(channel.hasSubscribers).toBe(true);
  channel.unsubscribe(onlyErrors as never);
});
