// Interop: software nobody on the team wrote, on both ends. A real XMPP client
// library (@xmpp/client) is the distributor; a real Web Push library (web-push)
// is the app server, encrypting with RFC 8291 aes128gcm for a subscription whose
// keys the test made; the distributor decrypts what it receives (http_ece).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createECDH, randomBytes } from "node:crypto";
import { xml } from "@xmpp/client";
import webpush from "web-push";
import ece from "http_ece";
import { connectDistributor, ENV, NS, registerApp, startProsody } from "./prosody.mjs";

const HOST = "localhost"; // endpoints on "localhost" resolve here without DNS
const PASSWORD = "secret-password";

/** Resolves with the next value pushed to the queue, or rejects after `ms`. */
function waitFor(queue, ms = 10_000) {
  return new Promise((resolve, reject) => {
    if (queue.items.length > 0) return resolve(queue.items.shift());
    const timer = setTimeout(() => reject(new Error(`nothing arrived within ${ms} ms`)), ms);
    queue.waiting = (item) => {
      clearTimeout(timer);
      resolve(item);
    };
  });
}

function newQueue() {
  const queue = { items: [], waiting: null };
  queue.push = (item) => {
    if (queue.waiting) {
      const w = queue.waiting;
      queue.waiting = null;
      w(item);
    } else queue.items.push(item);
  };
  return queue;
}

/**
 * What an app server does with web-push: encrypt and sign the request. web-push
 * only speaks HTTPS and the test server is plain HTTP on loopback, so the request
 * it builds is sent with fetch.
 */
async function sendWebPush(subscription, message, options) {
  const request = webpush.generateRequestDetails(subscription, message, options);
  const response = await fetch(request.endpoint, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

describe(`Web Push to an XMPP distributor through mod_unified_push (${ENV})`, () => {
  let server;
  let distributor;
  const pushes = newQueue();
  const delivered = () => true; // an empty result
  let answer = delivered;

  before(async () => {
    server = await startProsody({
      hosts: [HOST],
      users: [["alice", HOST, PASSWORD]],
      modules: ["unified_push"],
    });
    distributor = await connectAs("phone", pushes);
  });

  /** A distributor logged in as alice/`resource`, queueing the push IQs it gets. */
  function connectAs(resource, queue) {
    return connectDistributor(server, {
      host: HOST,
      username: "alice",
      password: PASSWORD,
      resource,
      onPush: (stanza) => {
        queue.push(stanza);
        return answer();
      },
    });
  }

  after(async () => {
    await distributor?.stop().catch(() => {});
    await server?.stop();
  });

  const register = (by = distributor) => registerApp(by, HOST);

  it("registers and hands out an endpoint a Web Push library accepts", async () => {
    const { endpoint } = await register();
    const url = new URL(endpoint);
    assert.equal(url.hostname, HOST);
    assert.match(url.pathname, /^\/push\/./);
  });

  /** The subscription the app on the phone would create (RFC 8291 keys) for an endpoint. */
  function subscriptionFor(endpoint) {
    const ua = createECDH("prime256v1");
    ua.generateKeys();
    const auth = randomBytes(16);
    return {
      subscription: {
        endpoint,
        keys: { p256dh: ua.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
      },
      // What the app decrypts with.
      decrypt: (encrypted) =>
        ece.decrypt(encrypted, { version: "aes128gcm", privateKey: ua, authSecret: auth }),
    };
  }

  /** An aes128gcm message, VAPID-signed, as an app server sends it. */
  function sendEncrypted(subscription, message, ttl) {
    const vapid = webpush.generateVAPIDKeys();
    return sendWebPush(subscription, message, {
      TTL: ttl,
      contentEncoding: "aes128gcm",
      vapidDetails: {
        subject: "mailto:ops@example.test",
        publicKey: vapid.publicKey,
        privateKey: vapid.privateKey,
      },
    });
  }

  it("relays an aes128gcm message that the distributor decrypts to the original", async () => {
    const { endpoint, application, instance } = await register();
    const { subscription, decrypt } = subscriptionFor(endpoint);
    const message = `Hello from web-push ${randomBytes(4).toString("hex")}: ünïcödé ✓`;

    const result = await sendEncrypted(subscription, message, 60);
    assert.equal(result.status, 201);

    const iq = await waitFor(pushes);
    const push = iq.getChild("push", NS);
    assert.equal(iq.attrs.from, HOST);
    assert.equal(push.attrs.application, application);
    assert.equal(push.attrs.instance, instance);
    const decrypted = decrypt(Buffer.from(push.text(), "base64"));
    assert.equal(decrypted.toString("utf8"), message);
  });

  it("keeps a message for an offline distributor, which decrypts it when it comes back", async () => {
    const laptopPushes = newQueue();
    const laptop = await connectAs("laptop", laptopPushes);
    const { endpoint, application } = await register(laptop);
    await laptop.stop();
    const { subscription, decrypt } = subscriptionFor(endpoint);
    const message = `Kept while you were away ${randomBytes(4).toString("hex")}`;

    const result = await sendEncrypted(subscription, message, 3600);
    assert.equal(result.status, 201);
    const ttl = Number(result.headers.get("ttl"));
    assert.ok(ttl > 0 && ttl <= 3600, `TTL of a kept message: ${result.headers.get("ttl")}`);

    const back = await connectAs("laptop", laptopPushes);
    try {
      const push = (await waitFor(laptopPushes)).getChild("push", NS);
      assert.equal(push.attrs.application, application);
      assert.equal(decrypt(Buffer.from(push.text(), "base64")).toString("utf8"), message);
    } finally {
      await back.stop().catch(() => {});
    }
  });

  it("relays a push without payload (web-push with a null message) as an empty <push/>", async () => {
    const { endpoint, application } = await register();
    const { subscription } = subscriptionFor(endpoint);
    const result = await sendWebPush(subscription, null, { TTL: 60 });
    assert.equal(result.status, 201);
    const push = (await waitFor(pushes)).getChild("push", NS);
    assert.equal(push.attrs.application, application);
    assert.equal(push.text(), "");
  });

  it("answers the UnifiedPush discovery GET", async () => {
    const { endpoint } = await register();
    const response = await fetch(endpoint);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^application\/json/);
    assert.deepEqual(await response.json(), { unifiedpush: { version: 1 } });
  });

  const errorCases = [
    ["an unknown endpoint", (e) => `${new URL(e).origin}/push/no-such-endpoint`, "x", 404],
    ["a message over 4096 bytes", (e) => e, "x".repeat(4097), 413],
  ];
  for (const [what, target, body, status] of errorCases) {
    it(`answers ${status} to ${what}`, async () => {
      const { endpoint } = await register();
      const response = await fetch(target(endpoint), { method: "POST", body });
      assert.equal(response.status, status);
      assert.doesNotMatch(await response.text(), /stack traceback|\.lua:\d+/);
    });
  }

  it("answers 404 once the distributor says the app is gone", async () => {
    const { endpoint } = await register();
    // An error element returned from the handler is sent as the IQ error.
    answer = () =>
      xml(
        "error",
        { type: "cancel" },
        xml("item-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
      );
    const { subscription } = subscriptionFor(endpoint);
    const result = await sendWebPush(subscription, "gone?", { TTL: 60 });
    assert.equal(result.status, 404);
    const push = (await waitFor(pushes)).getChild("push", NS);
    assert.ok(push, "the push was offered to the distributor before it was refused");
    answer = delivered;
  });
});
