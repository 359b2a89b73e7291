// The XMPP side of UnifiedPush (docs/design.md, "Protocol"): the namespace, what a valid
// registration request looks like, and the stanzas we build.
import { base64 } from "util.encodings";
import { datetime } from "util.datetime";
import { iq, reply, Stanza, stanza } from "util.stanza";

export const NS = "http://gultsch.de/xmpp/drafts/unified-push";

/** Largest push message accepted, bytes (docs/design.md, "HTTP semantics"). */
export const MAX_BODY_BYTES = 4096;

/** Size of the SHA-256 hashes distributors send as `application` and `instance`. */
const HASH_BYTES = 32;

// Standard base64 alphabet with at most two '=' of padding (a Lua pattern). Prosody's
// decoder ignores whatever follows the padding, so the whole value is checked here first.
const BASE64_PATTERN = "^[A-Za-z0-9+/]*=?=?$";

/**
 * Checks one attribute of `<register/>`: standard base64 of exactly 32 bytes.
 * Returns the problem in words, naming the attribute, or undefined when valid.
 */
export function hashAttributeProblem(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === "") return `${name}: missing`;
  if (string.find(value, BASE64_PATTERN)[0] === undefined || value.length % 4 !== 0) {
    return `${name}: not base64`;
  }
  const decoded = base64.decode(value);
  if (decoded === undefined) return `${name}: not base64`;
  if (decoded.length !== HASH_BYTES) {
    return `${name}: decodes to ${decoded.length} bytes, expected ${HASH_BYTES}`;
  }
  return undefined;
}

/** The `<registered/>` answer to a registration. */
export function registeredReply(request: Stanza, endpoint: string, expires: number): Stanza {
  return reply(request)
    .tag("registered", { xmlns: NS, expiration: datetime(expires), endpoint })
    .up();
}

/** The `<push/>` IQ that carries one notification to the distributor. */
export function pushIq(
  from: string,
  to: string,
  id: string,
  application: string,
  instance: string,
  body: string,
): Stanza {
  return iq({ type: "set", from, to, id }).text_tag("push", base64.encode(body), {
    xmlns: NS,
    application,
    instance,
  });
}

/** A `<push/>` element on its own, as a kept message stores it. */
export function pushElement(application: string, instance: string, body: string): Stanza {
  return stanza("push", { xmlns: NS, application, instance }).text(base64.encode(body));
}

/** The push IQ around a `<push/>` element made earlier (a kept message). */
export function pushIqWith(from: string, to: string, id: string, push: Stanza): Stanza {
  return iq({ type: "set", from, to, id }).add_child(push);
}
