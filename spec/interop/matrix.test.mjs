// Interop: the Matrix push gateway as a homeserver and a Matrix app's
// distributor see it. Node's fetch plays the homeserver, posting notifications
// shaped like Synapse's HTTP pusher's; a real XMPP client library (@xmpp/client)
// is the distributor and must receive the notification's JSON intact.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { xml } from "@xmpp/client";
import { connectDistributor, ENV, NS, registerApp, startProsody } from "./prosody.mjs";

const HOST = "localhost"; // endpoints on "localhost" resolve here without DNS
const PASSWORD = "secret-password";
const GATEWAY_PATH = "/_matrix/push/v1/notify";

/** A notification as Synapse's HTTP pusher posts it, in the default format. */
function synapseNotification(pushkeys) {
  const eventId = `$${randomBytes(12).toString("base64url")}:chat.example.test`;
  return {
    notification: {
      id: eventId,
      event_id: eventId,
      room_id: "!kRqBvNaTz:chat.example.test",
      type: "m.room.message",
      sender: "@carol:chat.example.test",
      sender_display_name: "Carol",
      room_name: "Weekend hike",
      prio: "high",
      content: { msgtype: "m.text", body: "Meet at the trailhead at 8 — bring water 💧" },
      counts: { unread: 2 },
      devices: pushkeys.map((pushkey) => ({
        app_id: "chat.example.android",
        pushkey,
        pushkey_ts: 1718000000000,
        data: {},
        tweaks: { sound: "default", highlight: false },
      })),
    },
  };
}

/** The same in the event_id_only format. */
function eventIdOnly(pushkeys) {
  return {
    notification: {
      event_id: `$${randomBytes(12).toString("base64url")}:chat.example.test`,
      room_id: "!kRqBvNaTz:chat.example.test",
      counts: { unread: 1 },
      prio: "high",
      devices: pushkeys.map((pushkey) => ({
        app_id: "chat.example.android",
        pushkey,
        pushkey_ts: 1718000000000,
        data: { format: "event_id_only" },
      })),
    },
  };
}

describe(`Matrix notifications to an XMPP distributor through mod_unified_push (${ENV})`, () => {
  let server;
  let distributor;
  const pushes = [];
  const delivered = () => true; // an empty result
  let answer = delivered;

  before(async () => {
    server = await startProsody({
      hosts: [HOST],
      users: [["alice", HOST, PASSWORD]],
      modules: ["unified_push"],
    });
    distributor = await connectDistributor(server, {
      host: HOST,
      username: "alice",
      password: PASSWORD,
      resource: "phone",
      onPush: (stanza) => {
        pushes.push(stanza);
        return answer();
      },
    });
  });

  after(async () => {
    await distributor?.stop().catch(() => {});
    await server?.stop();
  });

  const register = () => registerApp(distributor, HOST);

  /** What a homeserver does: POST the notification to the gateway on the endpoint's server. */
  async function notify(endpoint, notification) {
    const text = JSON.stringify(notification);
    const response = await fetch(new URL(GATEWAY_PATH, endpoint), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: text,
    });
    return { text, status: response.status, body: await response.json() };
  }

  it("is discovered on the endpoint's own server", async () => {
    const { endpoint } = await register();
    const response = await fetch(new URL(GATEWAY_PATH, endpoint));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^application\/json/);
    assert.deepEqual(await response.json(), { unifiedpush: { gateway: "matrix" } });
  });

  const formats = [
    ["Synapse's default format", synapseNotification],
    ["the event_id_only format", eventIdOnly],
  ];
  for (const [name, build] of formats) {
    it(`relays a notification in ${name}; the distributor gets its JSON intact`, async () => {
      const { endpoint, application, instance } = await register();
      const foreign = "https://up.example.org/UPxYz123?v=1";
      const notification = build([endpoint, foreign]);
      const before = pushes.length;
      const result = await notify(endpoint, notification);
      assert.equal(result.status, 200);
      assert.deepEqual(result.body, { rejected: [foreign] });
      // The distributor answered before the gateway did.
      assert.equal(pushes.length, before + 1);
      const iq = pushes[before];
      const push = iq.getChild("push", NS);
      assert.equal(iq.attrs.from, HOST);
      assert.equal(push.attrs.application, application);
      assert.equal(push.attrs.instance, instance);
      const received = Buffer.from(push.text(), "base64");
      assert.ok(received.equals(Buffer.from(result.text, "utf8")), "the bytes differ");
      assert.deepEqual(JSON.parse(received.toString("utf8")), notification);
    });
  }

  it("lists a pushkey as rejected once the distributor says the app is gone", async () => {
    const { endpoint } = await register();
    answer = () =>
      xml(
        "error",
        { type: "cancel" },
        xml("item-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
      );
    try {
      const result = await notify(endpoint, synapseNotification([endpoint]));
      assert.equal(result.status, 200);
      assert.deepEqual(result.body, { rejected: [endpoint] });
    } finally {
      answer = delivered;
    }
    // Revoked: rejected again without asking the distributor.
    const before = pushes.length;
    const again = await notify(endpoint, eventIdOnly([endpoint]));
    assert.deepEqual(again.body, { rejected: [endpoint] });
    assert.equal(pushes.length, before);
  });
});
