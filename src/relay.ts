// The HTTP push resource (docs/design.md, "HTTP semantics"; RFC 8030 §5): turns a POST
// to an endpoint into a push IQ to the distributor, and the distributor's
// answer into the HTTP status; a push for a distributor that is away (offline,
// hibernating, or silent) is kept for later (mailbox.ts), and so is one it has
// not answered within the answer window (docs/design.md, "Real mobile links");
// where a kept message or a delivered push lives, and its DELETE, are http.ts's.
import { ErrorObject } from "util.error";
import { HttpRequest, HttpResponse } from "net.http.server";
import { errors } from "./errors";
import { Logger } from "./log";
import { Mailbox } from "./mailbox";
import { Counts, PushOutcome as PushOutcomeName, Timing } from "./metrics";
import { PendingPushes, Settlement } from "./pending";
import { MAX_BODY_BYTES, pushIq } from "./protocol";
import { parsePushHeaders } from "./pushheaders";
import { RateLimiter } from "./ratelimit";
import { Endpoints, Target } from "./endpoints";

/**
 * Longer tokens are no backend's (paseto and jwt tokens are a few hundred
 * characters): refused before any lookup. Each backend checks its own shape.
 */
const LONGEST_TOKEN = 1024;

/** Seconds an app server is asked to wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 60;

export interface RelayContext {
  /** Our JID, the push IQs' sender. */
  readonly service: string;
  readonly endpoints: Endpoints;
  readonly pending: PendingPushes;
  readonly mailbox: Mailbox;
  /** Longest a message for an offline distributor is kept, seconds (0: never). */
  readonly messageTtl: number;
  readonly limiter: RateLimiter;
  /** Pushes one user's distributors may have unanswered at once. */
  readonly maxInFlight: number;
  /** True when the full JID cannot take a push now: no session, or a hibernating one. */
  readonly isAway: (this: void, fullJid: string) => boolean;
  /** The URL naming a delivered push message (the Location of its 201), from its id. */
  readonly locationFor: (this: void, id: string) => string;
  /** The URL naming a kept message, from its endpoint's key and its archive id. */
  readonly keptLocationFor: (this: void, key: string, id: string) => string;
  readonly newId: (this: void) => string;
  /** Seconds since the epoch (expiry). */
  readonly now: (this: void) => number;
  /** Seconds on a monotonic clock, with fractions (rate limiting): never the wall clock. */
  readonly clock: (this: void) => number;
  readonly log: Logger;
  /** Counted once per request, by what became of it. */
  readonly pushes: Counts<PushOutcomeName>;
  /** From sending a push to the distributor's answer, for pushes it answered. */
  readonly answerTime: Timing;
}

export type PushOutcome = number | string | ErrorObject;

/**
 * Where the answer to a push goes once the distributor has settled it, with the
 * response it answers (so the HTTP route passes sendLater itself, not a closure
 * per push).
 */
export type Reply<R extends PushResponse> = (this: void, response: R, outcome: PushOutcome) => void;

/**
 * What relayPush returns when the answer waits for the distributor: `true`, as
 * Prosody's HTTP server reads it from a handler ("the response is sent later").
 * Not a util.promise: Prosody runs each new promise and each `next` through a
 * timer task, two timer-heap entries per push for nothing (bench/README.md).
 */
export const LATER = true;

/** What relayPush reads of a request: a real one, or one the Matrix gateway makes. */
export type PushRequest = Pick<HttpRequest, "body" | "headers">;
/** What relayPush writes of a response. */
export type PushResponse = Pick<HttpResponse, "headers" | "status_code">;

/** An answer asking the app server to try again in `seconds`. */
export function retryLater(
  response: PushResponse,
  seconds: number,
  error: Parameters<typeof errors.new>[0],
): ErrorObject {
  response.headers.retry_after = tostring(seconds);
  return errors.new(error);
}

/**
 * Handles one POST to an endpoint: the answer now, or LATER and the answer to
 * `reply` once the distributor has settled the push.
 */
export function relayPush<R extends PushResponse>(
  context: RelayContext,
  token: string,
  request: PushRequest,
  response: R,
  reply: Reply<R>,
): PushOutcome | typeof LATER {
  const pushes = context.pushes;
  if (token.length > LONGEST_TOKEN) {
    pushes.unknown_endpoint.add(1);
    return errors.new("unknown-endpoint");
  }
  const [registration, failure, detail] = context.endpoints.resolve(token, context.now());
  if (registration === undefined) {
    if (failure === "failed") {
      context.log("warn", "Could not look up a push endpoint in storage: %s", detail);
      pushes.failed.add(1);
      return errors.new("internal");
    }
    context.log("debug", "Push to an %s endpoint", failure);
    pushes.unknown_endpoint.add(1);
    return errors.new("unknown-endpoint");
  }
  // An empty body is a push too (RFC 8030 §5, the Push API): a bare "wake up".
  const body = request.body ?? "";
  if (body.length > MAX_BODY_BYTES) {
    pushes.bad_request.add(1);
    return errors.new("body-too-large");
  }
  const [problem, ttl, , topic] = parsePushHeaders(request.headers);
  if (problem !== undefined) {
    pushes.bad_request.add(1);
    response.status_code = 400;
    response.headers.content_type = "text/plain; charset=utf-8";
    return problem;
  }

  // Keyed by the endpoint, so that DELETEs of its kept messages share the limit.
  const wait = context.limiter.take(registration.key, context.clock());
  if (wait > 0) {
    context.log("debug", "Push to an endpoint of <%s> over its rate limit", registration.sub);
    pushes.limited.add(1);
    return retryLater(response, wait, "rate-limited");
  }
  const to = registration.sub;
  // Kept no longer than asked, than the cap, or than the endpoint lives.
  const keptFor = math.max(
    0,
    math.min(ttl ?? context.messageTtl, context.messageTtl, registration.exp - context.now()),
  );
  if (context.isAway(to)) {
    return keepForLater(context, registration, body, keptFor, topic, response);
  }
  const keepable = keptFor > 0 && registration.indexed !== undefined;
  if (keepable && context.pending.stalled(to)) {
    return keepAndSend(context, token, registration, body, keptFor, topic, response);
  }
  if (keepable && context.mailbox.hasKept(registration.user, registration.key)) {
    // Messages kept for this endpoint go first: this one joins them.
    const answer = keepForLater(context, registration, body, keptFor, topic, response);
    context.mailbox.flush(to);
    return answer;
  }
  if (context.pending.countFor(registration.user) >= context.maxInFlight) {
    context.log(
      "debug",
      "Push for <%s> refused: %d already awaiting an answer",
      to,
      context.maxInFlight,
    );
    pushes.limited.add(1);
    return retryLater(response, 1, "too-many-in-flight");
  }

  const id = context.newId();
  const iq = pushIq(context.service, to, id, registration.application, registration.instance, body);
  /** Set once the app server has its answer; with a held copy's id when that was at the window. */
  let answered = false;
  let copy: string | undefined;
  context.pending.send(
    iq,
    registration.user,
    (settled, waited) => {
      if (settled.answer === "late") {
        // The window closed: keep a copy and answer now; the IQ goes on waiting.
        answered = true;
        const [kept, copyId] = keepCopy(context, registration, body, keptFor, topic, response);
        copy = copyId;
        reply(response, kept);
        return;
      }
      if (settled.answered) context.answerTime.sample(waited);
      if (!answered) {
        answered = true;
        // Not answered (no time left, or it left): kept, unless the module is going away.
        const stay = keepable && !settled.answered && settled.reason !== "unload";
        reply(
          response,
          stay
            ? keepForLater(context, registration, body, keptFor, topic, response)
            : outcome(context, settled, token, registration, id, response),
        );
        return;
      }
      lateOutcome(context, settled, token, registration, copy, body.length);
    },
    keepable ? "window" : undefined,
  );
  return LATER;
}

/**
 * A push for a distributor that left an earlier one unanswered past its window:
 * kept (held) and answered at once, and still sent, since its answer (or its
 * stream management) may come yet; a result makes the copy go.
 */
function keepAndSend(
  context: RelayContext,
  token: string,
  registration: Target,
  body: string,
  ttl: number,
  topic: string | undefined,
  response: PushResponse,
): PushOutcome {
  // At the in-flight bound it is only kept: a held copy needs its IQ out.
  const send = context.pending.countFor(registration.user) < context.maxInFlight;
  const [answer, copy] = keepCopy(context, registration, body, ttl, topic, response, send);
  if (copy === undefined || !send) return answer;
  const iq = pushIq(
    context.service,
    registration.sub,
    context.newId(),
    registration.application,
    registration.instance,
    body,
  );
  context.pending.send(
    iq,
    registration.user,
    (settled) => lateOutcome(context, settled, token, registration, copy, body.length),
    "held",
  );
  return answer;
}

/** The HTTP answer to a push the distributor has settled. */
function outcome(
  context: RelayContext,
  settled: Settlement,
  token: string,
  registration: Target,
  id: string,
  response: PushResponse,
): PushOutcome {
  const to = registration.sub;
  if (settled.answer === "delivered") {
    context.log("debug", "Push %s delivered to <%s>", id, to);
    // RFC 8030 §5: the message is not stored (TTL 0) and has a URL of its own.
    response.headers.ttl = "0";
    response.headers.location = context.locationFor(id);
    context.pushes.delivered.add(1);
    return 201;
  }
  if (settled.answer === "gone") {
    context.log(
      "debug",
      "Push %s refused by <%s> (%s): revoking the endpoint",
      id,
      to,
      settled.reason,
    );
    const [revoked, reason] = context.endpoints.revoke(token, registration, context.now());
    if (!revoked) context.log("warn", "Could not revoke a push endpoint: %s", reason);
    context.pushes.gone.add(1);
    return errors.new("unknown-endpoint");
  }
  context.log("debug", "Push %s not delivered to <%s>: %s", id, to, settled.reason);
  context.pushes.unavailable.add(1);
  return retryLater(response, RETRY_AFTER_SECONDS, "distributor-unavailable");
}

/**
 * Keeps a push for a distributor that is away for `ttl` seconds, and answers
 * 201 naming the kept message. A TTL of 0 keeps nothing (RFC 8030 §5.2: it
 * expires at once), still 201; an endpoint issued before store and forward
 * cannot keep, so 503.
 */
function keepForLater(
  context: RelayContext,
  registration: Target,
  body: string,
  ttl: number,
  topic: string | undefined,
  response: PushResponse,
): PushOutcome {
  const [answer] = keepCopy(context, registration, body, ttl, topic, response, false);
  return answer;
}

/** keepForLater, with the kept message's id; a `held` one is a copy of a push still out. */
function keepCopy(
  context: RelayContext,
  registration: Target,
  body: string,
  ttl: number,
  topic: string | undefined,
  response: PushResponse,
  held = true,
): LuaMultiReturn<[answer: PushOutcome, copy: string | undefined]> {
  const to = registration.sub;
  if (registration.indexed === undefined) {
    context.log("debug", "Push for <%s> not relayed: distributor away", to);
    context.pushes.unavailable.add(1);
    return $multi(retryLater(response, RETRY_AFTER_SECONDS, "distributor-unavailable"), undefined);
  }
  if (ttl <= 0) {
    context.log("debug", "Push for <%s> with no time to keep: expired", to);
    context.pushes.unavailable.add(1);
    response.headers.ttl = "0";
    response.headers.location = context.locationFor(context.newId());
    return $multi(201, undefined);
  }
  const key = registration.key;
  const [id, refusal, detail] = context.mailbox.keep(
    registration.user,
    key,
    registration.application,
    registration.instance,
    body,
    ttl,
    topic,
    held,
  );
  if (id === undefined) {
    if (refusal === "full") {
      context.log("debug", "Push for <%s> not kept: %s already", to, detail);
      context.pushes.limited.add(1);
      return $multi(retryLater(response, RETRY_AFTER_SECONDS, "too-much-kept"), undefined);
    }
    context.log("warn", "Could not keep a push message: %s", detail);
    context.pushes.failed.add(1);
    return $multi(errors.new("internal"), undefined);
  }
  context.log("debug", "Push for <%s> kept for %d s", to, ttl);
  context.pushes.stored.add(1);
  response.headers.ttl = tostring(ttl);
  response.headers.location = context.keptLocationFor(key, id);
  return $multi(201, id);
}

/**
 * What the distributor's answer does to a push answered 201 at its window:
 * a result makes its kept copy go, item-not-found revokes, anything else
 * leaves the copy for the next flush.
 */
function lateOutcome(
  context: RelayContext,
  settled: Settlement,
  token: string,
  registration: Target,
  copy: string | undefined,
  bytes: number,
): void {
  context.log("debug", "Late answer from <%s>: %s", registration.sub, settled.reason);
  if (copy !== undefined) {
    const key = registration.key;
    context.mailbox.settleHeld(registration.user, key, copy, bytes, settled.answer === "delivered");
  }
  if (settled.answer === "gone") {
    const [revoked, reason] = context.endpoints.revoke(token, registration, context.now());
    if (!revoked) context.log("warn", "Could not revoke a push endpoint: %s", reason);
  }
}
