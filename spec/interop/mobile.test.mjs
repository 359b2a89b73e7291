// Interop: a phone on a mobile link, with a real XMPP client library's stream
// management. @xmpp/client enables XEP-0198 with resumption when Prosody offers
// it (mod_smacks) and resumes after its connection drops. The push an app server
// sends meanwhile is answered 201 with a TTL (kept, not refused) and arrives
// exactly once after the resumption (docs/design.md, "Real mobile links").
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/client";
import { connectDistributor, ENV, NS, registerApp, startProsody } from "./prosody.mjs";

const HOST = "localhost"; // endpoints on "localhost" resolve here without DNS
const PASSWORD = "secret-password";

/** Resolves once `emitter` emits `event`, or rejects after `ms`. */
function once(emitter, event, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe(`A distributor whose connection drops, with stream management (${ENV})`, () => {
  let server;
  let distributor;
  const pushes = [];
  let firstPush;
  const arrived = new Promise((resolve) => (firstPush = resolve));

  before(async () => {
    server = await startProsody({
      hosts: [HOST],
      users: [["alice", HOST, PASSWORD]],
      modules: ["unified_push", "smacks"],
    });
    distributor = await connectDistributor(server, {
      host: HOST,
      username: "alice",
      password: PASSWORD,
      resource: "phone",
      streamManagement: true,
      onPush: (stanza) => {
        pushes.push(stanza);
        firstPush();
        return true; // an empty result
      },
    });
  });

  after(async () => {
    await distributor?.stop().catch(() => {});
    await server?.stop();
  });

  const ping = () =>
    distributor.iqCaller.request(
      xml("iq", { type: "get", to: HOST }, xml("ping", { xmlns: "urn:xmpp:ping" })),
    );

  it("gets a push sent while it was away exactly once after it resumes", async () => {
    assert.ok(distributor.streamManagement.enabled, "stream management was not enabled");
    const app = await registerApp(distributor, HOST);
    // Time for the app server to push before the library reconnects (longer than
    // the answer window, should Prosody not have seen the drop before the push).
    distributor.reconnect.delay = 3000;
    const resumed = once(distributor.streamManagement, "resumed");
    distributor.socket.destroy(); // the link dies without </stream>

    const response = await fetch(app.endpoint, {
      method: "POST",
      headers: { TTL: "600" },
      body: "while the phone was in a tunnel",
    });
    assert.equal(response.status, 201);
    const ttl = Number(response.headers.get("ttl"));
    assert.ok(ttl > 0 && ttl <= 600, `TTL ${response.headers.get("ttl")}`);
    assert.ok(response.headers.get("location"), "no Location");

    await resumed;
    let timer;
    await Promise.race([
      arrived,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("no push within 10 s")), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    // Round trips (and a directed presence, another chance to flush) so that a second copy would be in.
    await ping();
    await distributor.send(xml("presence", { to: HOST }));
    await ping();
    const bodies = pushes.map((stanza) =>
      Buffer.from(stanza.getChild("push", NS).text(), "base64").toString(),
    );
    assert.deepEqual(bodies, ["while the phone was in a tunnel"]);
  });
});
