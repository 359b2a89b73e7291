// The module's HTTP side (docs/design.md, "HTTP semantics"): where the endpoints
// and the push messages live (URL building, the message resource's reference
// format, its Location and DELETE), the routes of the endpoints and of the Matrix
// push gateway, CORS and 405. What a POST does is relay.ts's, what a gateway
// notification does matrix.ts's; helpers: cors.ts (CORS answers), endpoint.ts
// (the token in the URL), httpanswer.ts (answers sent once a push is settled).
import { HttpCorsOptions, HttpEvent, HttpRoutes } from "net.http.server";
import { urldecode, urlencode } from "util.http";
import { medium } from "util.id";
import { monotonic } from "util.time";
import { Config } from "./config";
import { corsFor, corsSettings, letModHttpRemoveApp } from "./cors";
import { endpointPath, tokenOf } from "./endpoint";
import { Endpoints } from "./endpoints";
import { errors } from "./errors";
import { sendLater } from "./httpanswer";
import { Logger } from "./log";
import { Mailbox } from "./mailbox";
import { Metrics } from "./metrics";
import { PendingPushes } from "./pending";
import { rateLimiter } from "./ratelimit";
import {
  discover,
  GatewayContext,
  methodNotAllowed as matrixMethodNotAllowed,
  notify,
  relayPromised,
} from "./matrix";
import { PushOutcome, PushResponse, RelayContext, relayPush, retryLater } from "./relay";
import { isAway } from "./sessions";

/** The Matrix push gateway's path (Matrix Push Gateway API). */
export const MATRIX_PATH = "/_matrix/push/v1/notify";

/** Where the push message resources (the Locations of 201s) live under the base. */
export const MESSAGE_PREFIX = "message/";

/** Characters of a kept message's reference that name its endpoint (a tokenKey). */
const KEY_LENGTH = 32;

/** Longer message ids are not ours (a bucket number, then util.id's 16 characters or SQL storage's 36-character UUID). */
const MAX_MESSAGE_ID_LENGTH = 64;

/** The URLs the module hands out. */
export interface PushUrls {
  /** The HTTP base of the endpoints (after mod_http is ready). */
  readonly base: (this: void) => string;
  /** An endpoint's URL, from its token. */
  readonly endpointFor: (this: void, token: string) => string;
  /** The URL naming a delivered push message (the Location of its 201), from its id. */
  readonly locationFor: (this: void, id: string) => string;
  /**
   * The URL naming a kept message, from its endpoint's key and its archive id: the
   * reference is the credential for a DELETE, split between path and query like an
   * endpoint, so it stays out of logs.
   */
  readonly keptLocationFor: (this: void, key: string, id: string) => string;
}

/** The URLs of this instance, computed on first use and again after a configuration reload. */
export function pushUrls(module: Prosody.Module): PushUrls {
  let pushBase: string | undefined;
  let messageBase: string | undefined;
  module.hook_global("config-reloaded", () => {
    pushBase = undefined;
    messageBase = undefined;
  });
  const base = () => {
    pushBase ??= module.http_url("push", "/push");
    return pushBase;
  };
  // Every delivered push names a message: its base is made once.
  const locationFor = (tail: string) => {
    messageBase ??= `${base()}/${MESSAGE_PREFIX}`;
    return messageBase + tail;
  };
  return {
    base,
    endpointFor: (token) => `${base()}/${endpointPath(token, urlencode)}`,
    locationFor,
    keptLocationFor: (key, id) => locationFor(endpointPath(key + id, urlencode)),
  };
}

/** What cancelling a kept message needs of the relay's context. */
export type MessageContext = Pick<RelayContext, "limiter" | "mailbox" | "clock" | "log">;

/** Answers a DELETE on a push message resource: 204 when a kept message was removed. */
export function cancelMessage(
  context: MessageContext,
  reference: string,
  response: PushResponse,
): PushOutcome {
  const key = string.sub(reference, 1, KEY_LENGTH);
  const id = string.sub(reference, KEY_LENGTH + 1);
  // Anything else is not a reference of ours, and must not reach the store.
  if (
    string.find(key, "^[0-9a-f]+$")[0] === undefined ||
    key.length !== KEY_LENGTH ||
    id.length > MAX_MESSAGE_ID_LENGTH ||
    string.find(id, "^[%w_.-]+$")[0] === undefined
  ) {
    return errors.new("unknown-message");
  }
  const wait = context.limiter.take(key, context.clock());
  if (wait > 0) return retryLater(response, wait, "rate-limited");
  const [found, err] = context.mailbox.cancel(key, id);
  if (found === undefined) {
    context.log("warn", "Could not cancel a kept push message: %s", err);
    return errors.new("internal");
  }
  if (!found) return errors.new("unknown-message");
  context.log("debug", "A kept push message was cancelled");
  return 204;
}

const DISCOVERY = '{"unifiedpush":{"version":1}}';

const PUSH_CORS: HttpCorsOptions = {
  enabled: true,
  headers: {
    "Content-Encoding": true,
    TTL: true,
    Urgency: true,
    Topic: true,
    "Content-Type": true,
    Authorization: true,
  },
};

/** The push endpoints' routes: discovery, POST, DELETE of kept messages, preflight, 405. */
function pushRoutes(module: Prosody.Module, relay: RelayContext): HttpRoutes {
  // CORS on the endpoints is ours, not mod_http's (src/cors.ts says why).
  const cors = corsFor(
    corsSettings(module, "push"),
    ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"],
    PUSH_CORS,
  );
  /** Lets a browser (a request with an Origin) read the answer, as CORS allows. */
  const fromBrowser = (event: HttpEvent) => {
    const origin = event.request.headers.origin;
    if (origin !== undefined) cors?.allow(origin, event.response.headers);
  };
  const methodNotAllowed = (event: HttpEvent) => {
    fromBrowser(event);
    event.response.headers.allow = "GET, POST, DELETE, OPTIONS";
    return errors.new("method-not-allowed");
  };
  return {
    "GET /*": (event) => {
      fromBrowser(event);
      event.response.headers.content_type = "application/json";
      return DISCOVERY;
    },
    "POST /*": (event, path) => {
      fromBrowser(event);
      return relayPush(
        relay,
        tokenOf(path, event.request.url.query, urldecode),
        event.request,
        event.response,
        sendLater,
      );
    },
    "DELETE /*": (event, path) => {
      fromBrowser(event);
      if (string.sub(path, 1, MESSAGE_PREFIX.length) !== MESSAGE_PREFIX) {
        return methodNotAllowed(event);
      }
      const reference = string.sub(path, MESSAGE_PREFIX.length + 1);
      return cancelMessage(
        relay,
        tokenOf(reference, event.request.url.query, urldecode),
        event.response,
      );
    },
    // A preflight: what a browser may send.
    "OPTIONS /*": (event) => {
      if (cors === undefined) return methodNotAllowed(event);
      cors.allow(event.request.headers.origin, event.response.headers);
      return "";
    },
    "PUT /*": methodNotAllowed,
    "PATCH /*": methodNotAllowed,
  };
}

/** The Matrix push gateway's routes; mod_http answers its CORS, echoing the Origin. */
function gatewayRoutes(gateway: GatewayContext): HttpRoutes {
  // The answer depends on the Origin, so caches must keep them apart.
  const varyOnOrigin = (event: HttpEvent) => {
    if (event.request.headers.origin !== undefined) event.response.headers.vary = "Origin";
  };
  const refuse = (event: HttpEvent) => {
    varyOnOrigin(event);
    return matrixMethodNotAllowed(event.response);
  };
  return {
    GET: (event: HttpEvent) => {
      varyOnOrigin(event);
      return discover(event.response);
    },
    POST: (event: HttpEvent) => {
      varyOnOrigin(event);
      return notify(gateway, event.request, event.response);
    },
    PUT: refuse,
    DELETE: refuse,
    PATCH: refuse,
  };
}

/** What the HTTP side is given of the module's other parts. */
export interface HttpParts {
  readonly config: Config;
  readonly endpoints: Endpoints;
  readonly pending: PendingPushes;
  readonly mailbox: Mailbox;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/**
 * Serves the endpoints and, with `gateway`, the Matrix push gateway on the same
 * HTTP host, where Matrix apps look for it (README "Matrix push gateway").
 */
export function serveHttp(
  module: Prosody.Module,
  urls: PushUrls,
  parts: HttpParts,
  gateway: boolean,
): void {
  const { config, metrics } = parts;
  const relay: RelayContext = {
    service: module.host,
    endpoints: parts.endpoints,
    pending: parts.pending,
    mailbox: parts.mailbox,
    messageTtl: config.messageTtl,
    limiter: rateLimiter(config.rateLimit, config.rateBurst, config.endpointCache),
    maxInFlight: config.maxInFlight,
    isAway,
    locationFor: urls.locationFor,
    keptLocationFor: urls.keptLocationFor,
    newId: medium,
    now: os.time,
    // Durations and rates on the monotonic clock: a wall clock stepped back an hour
    // would leave every endpoint over its rate for that hour.
    clock: monotonic,
    log: parts.log,
    pushes: metrics.pushes,
    answerTime: metrics.answerTime,
  };
  module.provides("http", {
    name: "push",
    default_path: "/push",
    cors: { enabled: false },
    route: pushRoutes(module, relay),
  });
  letModHttpRemoveApp(module.host, "push");
  if (!gateway) return;
  module.provides("http", {
    name: "matrix_push_gateway",
    default_path: MATRIX_PATH,
    route: gatewayRoutes({
      endpointPrefix: () => `${urls.base()}/`,
      relay: (token, request, response) => relayPromised(relay, token, request, response),
      decode: urldecode,
      log: relay.log,
    }),
  });
}
