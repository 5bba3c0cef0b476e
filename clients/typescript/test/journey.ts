// The client's journey against a live Switchboard node (started by clients/typescript's Go test):
// send with an idempotency key, read the timeline, start and check a verification, and receive
// events whose Standard Webhooks signatures are verified. It exits non-zero on the first failure.
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { createSwitchboard, must, SwitchboardError, verifyEvent, type EventOf, type SwitchboardEvent } from "../src/index.js";

const baseUrl = process.env.SWITCHBOARD_URL ?? "http://127.0.0.1:8080";
const apiKey = process.env.SWITCHBOARD_API_KEY ?? "";
const sb = createSwitchboard({ baseUrl, apiKey });

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// An endpoint of our own, on loopback, that keeps every delivery as received.
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
const server = createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    received.push({ headers: req.headers, body });
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as AddressInfo).port;

try {
  const endpoint = await must(
    sb.POST("/v1/endpoints", {
      body: { url: `http://127.0.0.1:${port}/events`, event_types: ["message.*", "verification.*"] },
    }),
  );
  assert.ok(endpoint.secret?.startsWith("whsec_"), "the new endpoint's secret is answered once");

  // Send with an idempotency key, twice: one message.
  const key = `ts-client-${Date.now()}`;
  const send = () =>
    sb.POST("/v1/messages", {
      params: { header: { "Idempotency-Key": key } },
      body: { to: "+14155550142", body: "Job #1042 assigned to you", metadata: { job_id: "1042" } },
    });
  const first = await send();
  const again = await send();
  assert.equal(first.response.status, 202);
  assert.equal(again.response.status, 202);
  assert.ok(first.data && again.data);
  assert.equal(again.data.id, first.data.id, "the same idempotency key answers the same message");

  // Same key, another request: 422 with a problem document.
  const reused = await sb.POST("/v1/messages", {
    params: { header: { "Idempotency-Key": key } },
    body: { to: "+14155550142", body: "something else" },
  });
  assert.equal(reused.response.status, 422);
  assert.equal(reused.error?.code, "idempotency_key_reused");

  // The timeline, oldest first, to the handset.
  const delivered = await poll("the message to be delivered", async () => {
    const m = await must(sb.GET("/v1/messages/{id}", { params: { path: { id: first.data!.id } } }));
    return m.status === "delivered" ? m : undefined;
  });
  const timeline = (delivered.events ?? []).map((e) => `${e.type}:${e.status ?? ""}`);
  assert.equal(timeline[0], "created:queued", `timeline: ${timeline}`);
  assert.equal(timeline.at(-1), "callback:delivered", `timeline: ${timeline}`);
  assert.equal(delivered.metadata?.job_id, "1042");

  // A verification: a wrong code, then the right one from the simulated phone.
  const to = "+14155550143";
  const v = await must(sb.POST("/v1/verifications", { body: { to } }));
  assert.equal(v.status, "pending");
  const wrong = await must(sb.POST("/v1/verifications/{id}/check", { params: { path: { id: v.id } }, body: { code: "000000" } }));
  assert.equal(wrong.valid, false);
  // The built-in backend texts the code: the simulated phone's inbox has it.
  const code = await poll("the code on the simulated phone", async () => {
    const sim = await must(sb.GET("/sim/v1/messages", { params: { query: { to } } }));
    return sim.messages.at(-1)?.body.match(/\b(\d{4,10})\b/)?.[1];
  });
  const right = await must(sb.POST("/v1/verifications/{id}/check", { params: { path: { id: v.id } }, body: { code } }));
  assert.equal(right.valid, true);
  assert.equal(right.status, "approved");

  // Events: each signature verified, each typed.
  const events = await poll("the delivered and approved events", async () => {
    const evs: SwitchboardEvent[] = received.map((r) => verifyEvent(endpoint.secret!, r.headers, r.body));
    const d = evs.find((e): e is EventOf<"message.status_changed"> => e.type === "message.status_changed" && e.data.message_id === first.data!.id && e.data.status === "delivered");
    const a = evs.find((e): e is EventOf<"verification.approved"> => e.type === "verification.approved" && e.data.verification_id === v.id);
    return d && a ? { d, a } : undefined;
  });
  assert.equal(events.d.data.to, "+14155550142");
  assert.equal(events.a.data.status, "approved");
  // A tampered body is refused.
  const one = received[0];
  assert.throws(() => verifyEvent(endpoint.secret!, one.headers, one.body.replace("}", ' }')), "a tampered body must not verify");

  // Errors are problems.
  try {
    await must(sb.GET("/v1/messages/{id}", { params: { path: { id: "msg_nope" } } }));
    assert.fail("a missing message was found");
  } catch (e) {
    assert.ok(e instanceof SwitchboardError && e.status === 404, String(e));
  }
  console.log(`typescript client journey: ok (${received.length} events verified)`);
} finally {
  server.close();
}
