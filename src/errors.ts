// The module's one util.error registry. `code` is the HTTP status a push request
// gets; type/condition are what an XMPP client gets.
import { init } from "util.error";

export const errors = init("unified_push", {
  "unknown-endpoint": {
    type: "cancel",
    condition: "item-not-found",
    code: 404,
    text: "No such push endpoint (unknown, revoked or expired)",
  },
  "empty-body": { type: "modify", condition: "bad-request", code: 400, text: "Empty push message" },
  "body-too-large": {
    type: "modify",
    condition: "policy-violation",
    code: 413,
    text: "Push message larger than 4096 bytes",
  },
  "method-not-allowed": {
    type: "cancel",
    condition: "not-allowed",
    code: 405,
    text: "Push endpoints accept GET and POST",
  },
  "distributor-unavailable": {
    type: "wait",
    condition: "recipient-unavailable",
    code: 503,
    text: "The distributor is not reachable right now; try again later",
  },
  "rate-limited": {
    type: "wait",
    condition: "policy-violation",
    code: 429,
    text: "Too many pushes to this endpoint; slow down",
  },
  "too-many-in-flight": {
    type: "wait",
    condition: "resource-constraint",
    code: 429,
    text: "Too many pushes awaiting the distributor's answer; try again shortly",
  },
  internal: {
    type: "wait",
    condition: "internal-server-error",
    code: 500,
    text: "Internal error in the push service",
  },
});
