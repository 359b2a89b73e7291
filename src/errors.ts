// The module's one util.error registry. `code` is the HTTP status a push request
// gets; type/condition are what an XMPP client gets.
import { init } from "util.error";
import { MAX_BODY_BYTES } from "./protocol";

export const errors = init("unified_push", {
  "unknown-endpoint": {
    type: "cancel",
    condition: "item-not-found",
    code: 404,
    text: "No such push endpoint (unknown, revoked or expired)",
  },
  "body-too-large": {
    type: "modify",
    condition: "policy-violation",
    code: 413,
    text: `Push message larger than ${MAX_BODY_BYTES} bytes`,
  },
  "method-not-allowed": {
    type: "cancel",
    condition: "not-allowed",
    code: 405,
    text: "Push endpoints accept GET and POST, and DELETE on a kept message",
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
  "too-much-kept": {
    type: "wait",
    condition: "resource-constraint",
    code: 429,
    text: "Too many push messages kept for this user's offline distributors; try again later",
  },
  "unknown-message": {
    type: "cancel",
    condition: "item-not-found",
    code: 404,
    text: "No such push message (unknown, delivered or expired)",
  },
  internal: {
    type: "wait",
    condition: "internal-server-error",
    code: 500,
    text: "Internal error in the push service",
  },
});
