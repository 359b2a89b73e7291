// A real Prosody in one of the test environments, for suites that run on the
// host: spec/helpers/serve.lua starts it with prosody.start's options and keeps
// it until its stdin closes. Also what a distributor does there (@xmpp/client).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { client, xml } from "@xmpp/client";
import { pickRunner, serveProsody } from "../../scripts/lib/environments.mjs";
import { NS } from "../../scripts/lib/unified-push.mjs";

/** The environment the host-side suites target (npm test sets it per run). */
export const ENV = process.env.MUP_ENV_NAME || "prosody-13";
export { NS };

/** Starts Prosody; resolves with { c2s_port, http_port, http_base, dir, stop() }. */
export function startProsody(options, timeoutMs = 30_000) {
  return serveProsody(pickRunner(), ENV, options, timeoutMs);
}

/**
 * A distributor (@xmpp/client) logged in to `server` as `username`/`resource` on
 * `host`, with initial presence sent. `onPush(stanza)` is called for every push IQ
 * and returns the answer (@xmpp/client keeps the first handler for a payload, so
 * make it read a variable to change answers later). With `streamManagement`, the
 * server offers XEP-0198 (mod_smacks) and presence waits until it is enabled:
 * @xmpp/client 0.14 sets its count of received stanzas to zero when it gets
 * around to <enabled/>, so a stanza read before that is counted and then lost,
 * and Prosody 13 refuses the resumption ("acknowledged less stanzas than already
 * acknowledged").
 */
export async function connectDistributor(
  server,
  { host, username, password, resource, onPush, streamManagement = false },
) {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${server.c2s_port}`,
    domain: host,
    resource,
    username,
    password,
  });
  xmpp.on("error", () => {});
  xmpp.iqCallee.set(NS, "push", (ctx) => onPush(ctx.stanza));
  await xmpp.start();
  // No event tells that <enabled/> was handled: a bounded wait for it.
  for (let i = 0; streamManagement && !xmpp.streamManagement.enabled && i < 500; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await xmpp.send(xml("presence"));
  return xmpp;
}

/** Registers a fresh app with `service`; resolves with { endpoint, application, instance }. */
export async function registerApp(xmpp, service) {
  const application = randomBytes(32).toString("base64");
  const instance = randomBytes(32).toString("base64");
  const reply = await xmpp.iqCaller.request(
    xml("iq", { type: "set", to: service }, xml("register", { xmlns: NS, application, instance })),
  );
  const registered = reply.getChild("registered", NS);
  assert.ok(registered, "the service answers with <registered/>");
  return { endpoint: registered.attrs.endpoint, application, instance };
}
