import { expect, test } from "bun:test";
import { errorToResponse } from "../../src/http/error-response";

test("a library error with a 4xx status keeps its status but never its own words", async () => {
  const foreign = Object.assign(new Error("ERR at /srv/app/node_modules/x.js: user bob@example.com not allowed"), { status: 405 });
  const { response, unexpected } = errorToResponse("UNKNOWN", foreign, "req-1", true);
  expect(unexpected).toBe(false);
  expect(response.status).toBe(405);
  expect(await response.json()).toEqual({ message: "The request was refused (405)", code: "bad_request", request_id: "req-1" });
});
