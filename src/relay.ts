// The HTTP push resource (SPEC §3): turns a POST to an endpoint into a push IQ
// to the distributor, and the distributor's answer into the HTTP status.
import { ErrorObject, is_error } from "util.error";
import { Promise } from "util.promise";
import { Stanza } from "util.stanza";
import { HttpResponse } from "net.http.server";
import { Backend } from "./backends/backend";
import { errors } from "./errors";
import { Logger } from "./log";
import { pushIq } from "./protocol";

/** Largest push message accepted, bytes (SPEC §3). */
export const MAX_BODY_BYTES = 4096;

/** Longer tokens are not ours (paseto and jwt tokens are a few hundred characters). */
const MAX_TOKEN_LENGTH = 1024;

/** Seconds an app server is asked to wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 60;

/** Answers the distributor may give that mean the app is gone for good. */
const GONE_CONDITIONS: Record<string, true | undefined> = {
  "item-not-found": true,
  "feature-not-implemented": true,
};

export interface RelayContext {
  /** Our JID, the push IQs' sender. */
  readonly service: string;
  readonly backend: Backend;
  readonly iqTimeout: number;
  /** module:send_iq, bound: resolves with the reply event, rejects with a util.error. */
  readonly sendIq: (
    this: void,
    stanza: Stanza,
    timeout: number,
  ) => Promise<{ readonly stanza: Stanza }, ErrorObject | string>;
  /** True when the full JID is known to have no session right now. */
  readonly isOffline: (this: void, fullJid: string) => boolean;
  readonly newId: (this: void) => string;
  readonly now: (this: void) => number;
  readonly log: Logger;
}

export type PushOutcome = number | ErrorObject;

function unavailable(response: HttpResponse): ErrorObject {
  response.headers.retry_after = tostring(RETRY_AFTER_SECONDS);
  return errors.new("distributor-unavailable");
}

/** Handles one POST to an endpoint: the status now, or a promise of it. */
export function relayPush(
  context: RelayContext,
  token: string,
  body: string | undefined,
  response: HttpResponse,
): PushOutcome | Promise<PushOutcome> {
  if (token.length > MAX_TOKEN_LENGTH) return errors.new("unknown-endpoint");
  const [registration, failure] = context.backend.resolve(token, context.now());
  if (registration === undefined) {
    if (failure === "failed") {
      context.log("warn", "Could not look up a push endpoint in storage");
      return errors.new("internal");
    }
    context.log("debug", "Push to an %s endpoint", failure === "expired" ? "expired" : "unknown");
    return errors.new("unknown-endpoint");
  }
  if (body === undefined || body.length === 0) return errors.new("empty-body");
  if (body.length > MAX_BODY_BYTES) return errors.new("body-too-large");

  const to = registration.sub;
  if (context.isOffline(to)) {
    context.log("debug", "Push for <%s> not relayed: distributor offline", to);
    return unavailable(response);
  }

  const id = context.newId();
  const iq = pushIq(context.service, to, id, registration.application, registration.instance, body);
  return context.sendIq(iq, context.iqTimeout).next(
    (answer) => {
      // Only a real result is a delivery; anything else is treated as temporary.
      if (answer.stanza.attr.type !== "result") return unavailable(response);
      context.log("debug", "Push %s delivered to <%s>", id, to);
      return 201;
    },
    (err) => {
      if (!is_error(err)) {
        // A Lua error while sending, not an answer from the distributor.
        context.log("warn", "Push %s could not be sent: %s", id, err);
        return errors.new("internal");
      }
      if (GONE_CONDITIONS[err.condition] === true) {
        context.log("debug", "Push %s refused by <%s> (%s): endpoint gone", id, to, err.condition);
        return errors.new("unknown-endpoint");
      }
      context.log("debug", "Push %s not delivered to <%s>: %s", id, to, err.condition);
      return unavailable(response);
    },
  );
}
