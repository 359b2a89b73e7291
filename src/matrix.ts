// The Matrix push gateway (Matrix Push Gateway API, `POST /_matrix/push/v1/notify`)
// for Matrix apps that receive their pushes through UnifiedPush. A homeserver
// never POSTs to an endpoint itself: it posts a notification to a gateway and
// names each device's endpoint as its `pushkey`. For every pushkey that is one of
// our own endpoints the notification body is relayed unchanged as the push
// message, by the same code and rules as a direct POST to that endpoint. Nothing
// here makes an outgoing request: any other pushkey is only listed as rejected,
// so the gateway can never be used as an open relay.
import { ErrorObject } from "util.error";
import type * as JsonLibrary from "util.json";
import { all_settled, is_promise, new as newPromise, Promise, SettledResult } from "util.promise";
import { HttpRequestHeaders } from "net.http.server";
import { tokenOf } from "./endpoint";
import { Logger } from "./log";
import { MAX_BODY_BYTES } from "./protocol";
import {
  LATER,
  PushOutcome,
  PushRequest,
  PushResponse,
  RelayContext,
  relayPush,
  RETRY_AFTER_SECONDS,
} from "./relay";

// TypeScriptToLua reads "util.json" in an import as a JSON file and would require
// "util": the library is loaded by its name (tsconfig.base.json, noResolvePaths).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const json = require("util.json") as typeof JsonLibrary;

/** What an app finds at the gateway's URL with GET (UnifiedPush gateway discovery). */
export const DISCOVERY = '{"unifiedpush":{"gateway":"matrix"}}';

/**
 * Devices one notification may name. A homeserver notifies per user (Synapse names
 * one device per request), so a real notification names a handful at most. Each
 * device of ours costs a token lookup and an IQ to its distributor: 20 bounds that
 * work per request well above anyone's devices (and a 4096-byte body holds only a
 * few more of our endpoints, whose paseto tokens alone are ~200 characters).
 */
export const MAX_DEVICES = 20;

export interface GatewayContext {
  /** The endpoints' base URL and `/`: a pushkey starting with it names one of our endpoints. */
  readonly endpointPrefix: (this: void) => string;
  /** Relays a push message to the endpoint of `token` exactly as a POST to it would. */
  readonly relay: (
    this: void,
    token: string,
    request: PushRequest,
    response: PushResponse,
  ) => PushOutcome | Promise<PushOutcome>;
  /** Percent-decoding, as for the path of a POST to an endpoint (util.http's urldecode). */
  readonly decode: (this: void, text: string) => string;
  readonly log: Logger;
}

/**
 * relayPush as the gateway combines it: the outcome, or a util.promise of it when
 * the answer waits for the distributor.
 */
export function relayPromised(
  context: RelayContext,
  token: string,
  request: PushRequest,
  response: PushResponse,
): PushOutcome | Promise<PushOutcome> {
  let answered: PushOutcome | undefined;
  let resolveLater: ((this: void, outcome: PushOutcome) => void) | undefined;
  const now = relayPush(context, token, request, response, (_, later) => {
    if (resolveLater === undefined) answered = later;
    else resolveLater(later);
  });
  if (now !== LATER) return now;
  if (answered !== undefined) return answered;
  return newPromise<PushOutcome>((resolve) => {
    if (answered !== undefined) resolve(answered);
    else resolveLater = resolve;
  });
}

type MatrixErrorCode = "M_NOT_JSON" | "M_BAD_JSON" | "M_TOO_LARGE" | "M_UNRECOGNIZED" | "M_UNKNOWN";

/** Sets the status and returns a Matrix error body (`errcode`, `error`). */
function matrixError(
  response: PushResponse,
  status: number,
  errcode: MatrixErrorCode,
  text: string,
): string {
  response.status_code = status;
  response.headers.content_type = "application/json";
  // Both strings are ours and need no escaping.
  return `{"errcode":"${errcode}","error":"${text}"}`;
}

/** The answer to GET: the gateway discovery document. */
export function discover(response: PushResponse): string {
  response.headers.content_type = "application/json";
  return DISCOVERY;
}

/** The answer to any method but GET and POST. */
export function methodNotAllowed(response: PushResponse): string {
  response.headers.allow = "GET, POST";
  return matrixError(response, 405, "M_UNRECOGNIZED", "The push gateway accepts GET and POST");
}

/** The token a pushkey names when it is one of our endpoints, else `undefined`. */
export function tokenOfPushkey(
  pushkey: string,
  prefix: string,
  urldecode: (this: void, text: string) => string,
): string | undefined {
  if (pushkey.length <= prefix.length || string.sub(pushkey, 1, prefix.length) !== prefix) {
    return undefined;
  }
  // As a POST to the endpoint is read: the path part decoded, the query raw
  // (tokenOf decodes it); a pushkey without a query has the whole token in the path.
  const rest = string.sub(pushkey, prefix.length + 1);
  const [question] = string.find(rest, "?", 1, true);
  if (question === undefined) return tokenOf(urldecode(rest), undefined, urldecode);
  const path = urldecode(string.sub(rest, 1, question - 1));
  if (path.length === 0) return undefined;
  return tokenOf(path, string.sub(rest, question + 1), urldecode);
}

type JsonObject = { readonly [key: string]: unknown };

/** The decoded value, or `undefined` when `text` is not JSON. */
function decodeJson(this: void, text: string): unknown {
  const [value] = json.decode(text);
  return value;
}

/**
 * The pushkeys of a notification, or why it is refused: a body that is not JSON,
 * no `notification.devices` list, no devices, too many, or a device without a
 * string `pushkey` (a homeserver always sends one; such a request is malformed as
 * a whole rather than a pusher to remove, so nothing of it is relayed).
 */
function pushkeysOf(
  body: string,
): LuaMultiReturn<
  | [pushkeys: string[], errcode: undefined, text: undefined]
  | [pushkeys: undefined, errcode: MatrixErrorCode, text: string]
> {
  // util.json returns nil and a reason for most bad input, but a pcall keeps
  // hostile input from ever raising here.
  const [ran, value] = pcall(decodeJson, body);
  if (!ran || value === undefined) return $multi(undefined, "M_NOT_JSON", "The body is not JSON");
  const notification = type(value) === "table" ? (value as JsonObject).notification : undefined;
  const devices = type(notification) === "table" ? (notification as JsonObject).devices : undefined;
  if (type(devices) !== "table" || (devices as unknown[]).length === 0) {
    return $multi(undefined, "M_BAD_JSON", "The notification names no devices");
  }
  const list = devices as unknown[];
  if (list.length > MAX_DEVICES) {
    return $multi(
      undefined,
      "M_BAD_JSON",
      `A notification may name at most ${MAX_DEVICES} devices`,
    );
  }
  const pushkeys: string[] = [];
  for (const device of list) {
    const pushkey = type(device) === "table" ? (device as JsonObject).pushkey : undefined;
    if (type(pushkey) !== "string") {
      return $multi(undefined, "M_BAD_JSON", "Every device needs a pushkey string");
    }
    pushkeys.push(pushkey as string);
  }
  return $multi(pushkeys, undefined, undefined);
}

/** How the devices of one notification fared. */
interface Tally {
  /** Pushkeys that will never work: the homeserver removes their pushers. */
  readonly rejected: string[];
  /** Devices whose push was delivered (or kept for later). */
  delivered: number;
  /** Devices that failed only for now (distributor offline, limits, our own failure). */
  temporary: number;
  /** The shortest Retry-After among the temporary failures, seconds. */
  retryAfter: number | undefined;
}

/** The HTTP status relayPush settled on: as Prosody's HTTP server would read it. */
function statusOf(outcome: PushOutcome, response: PushResponse): number {
  const kind = type(outcome);
  if (kind === "number") return outcome as number;
  if (kind === "string") return response.status_code;
  return (outcome as ErrorObject).code ?? 500;
}

function count(tally: Tally, pushkey: string, status: number, response: PushResponse): void {
  if (status >= 200 && status < 300) {
    tally.delivered += 1;
  } else if (status === 404) {
    tally.rejected.push(pushkey);
  } else {
    tally.temporary += 1;
    const wait = tonumber(response.headers.retry_after);
    if (wait !== undefined && (tally.retryAfter === undefined || wait < tally.retryAfter)) {
      tally.retryAfter = wait;
    }
  }
}

/**
 * 200 with the rejected pushkeys, unless nothing was delivered and something may
 * work later: then 503 with Retry-After, so the homeserver tries again (the
 * Matrix Push Gateway API has no way to say "retry this device only").
 */
function answer(context: GatewayContext, tally: Tally, response: PushResponse): string {
  context.log(
    "debug",
    "Matrix notification: %d delivered, %d rejected, %d to retry",
    tally.delivered,
    tally.rejected.length,
    tally.temporary,
  );
  if (tally.delivered === 0 && tally.temporary > 0) {
    response.headers.retry_after = tostring(tally.retryAfter ?? RETRY_AFTER_SECONDS);
    return matrixError(response, 503, "M_UNKNOWN", "No device can be reached now; try again later");
  }
  response.status_code = 200;
  response.headers.content_type = "application/json";
  return `{"rejected":${json.encode_array(tally.rejected)}}`;
}

/** Relayed with no RFC 8030 headers: the homeserver sends none, so each device gets the defaults. */
const NO_HEADERS: HttpRequestHeaders = {};

/** Handles one POST of a notification: the answer now, or a promise of it. */
export function notify(
  context: GatewayContext,
  request: PushRequest,
  response: PushResponse,
): string | Promise<string> {
  const body = request.body;
  // The body is the push message: the size limit of a direct POST applies as is.
  if (body.length > MAX_BODY_BYTES) {
    return matrixError(
      response,
      413,
      "M_TOO_LARGE",
      `The notification is larger than ${MAX_BODY_BYTES} bytes`,
    );
  }
  const [pushkeys, errcode, text] = pushkeysOf(body);
  if (pushkeys === undefined) return matrixError(response, 400, errcode, text);

  const prefix = context.endpointPrefix();
  const message: PushRequest = { body, headers: NO_HEADERS };
  const tally: Tally = { rejected: [], delivered: 0, temporary: 0, retryAfter: undefined };
  const seen: { [pushkey: string]: true | undefined } = {};
  const waiting: Promise<PushOutcome>[] = [];
  const waitingFor: string[] = [];
  const waitingResponses: PushResponse[] = [];
  for (const pushkey of pushkeys) {
    if (seen[pushkey] === undefined) {
      seen[pushkey] = true;
      const token = tokenOfPushkey(pushkey, prefix, context.decode);
      if (token === undefined) {
        context.log("debug", "Matrix notification for a pushkey that is not our endpoint");
        tally.rejected.push(pushkey);
      } else {
        const deviceResponse: PushResponse = { headers: {}, status_code: 200 };
        const outcome = context.relay(token, message, deviceResponse);
        if (is_promise(outcome)) {
          waiting.push(outcome);
          waitingFor.push(pushkey);
          waitingResponses.push(deviceResponse);
        } else {
          count(tally, pushkey, statusOf(outcome, deviceResponse), deviceResponse);
        }
      }
    }
  }
  if (waiting.length === 0) return answer(context, tally, response);
  return all_settled(waiting).next((results: SettledResult<PushOutcome>[]) => {
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      if (result.status === "fulfilled") {
        count(
          tally,
          waitingFor[i],
          statusOf(result.value, waitingResponses[i]),
          waitingResponses[i],
        );
      } else {
        context.log("warn", "Relaying a Matrix notification failed: %s", tostring(result.reason));
        tally.temporary += 1;
      }
    }
    return answer(context, tally, response);
  });
}
