// mod_unified_push: a UnifiedPush provider for Prosody. This file only wires the
// pieces together: options, dependencies, metrics, stores, hooks, HTTP routes and
// admin shell commands.
import { HttpCorsOptions, HttpEvent, HttpRoutes } from "net.http.server";
import { get_metric_registry } from "core.statsmanager";
import { ArchiveStore, KeyValStore } from "core.storagemanager";
import { medium } from "util.id";
import { urldecode, urlencode } from "util.http";
import { error_reply } from "util.stanza";
import { monotonic } from "util.time";
import { createBackend, supportedBackends } from "./backends";
import { readConfig } from "./config";
import { endpointPath, tokenOf } from "./endpoint";
import { errors } from "./errors";
import { Logger } from "./log";
import { KeptRecord, mailbox as newMailbox } from "./mailbox";
import {
  discover,
  GatewayContext,
  methodNotAllowed as matrixMethodNotAllowed,
  notify,
} from "./matrix";
import { declareMetrics, Levels } from "./metrics";
import { pendingPushes } from "./pending";
import { NS } from "./protocol";
import { rateLimiter } from "./ratelimit";
import { answerRegistration } from "./registeriq";
import { sendLater } from "./httpanswer";
import { corsFor, corsSettings, letModHttpRemoveApp } from "./cors";
import { cancelMessage, RelayContext, relayPush, relayPushPromised } from "./relay";
import { endpointRegistry } from "./registry";
import { runWalk, SliceBudget } from "./slices";
import { isAway, sessionHostOf, watchSessions } from "./sessions";
import { offerShellCommands } from "./shell";
import {
  announcement,
  appPath,
  checkClaim,
  externalUrlProblem,
  HttpClaim,
  refuseToLoad,
} from "./startup";
import { userIndex, UserRecord } from "./userindex";
import { VERSION } from "./version";

const isComponent = module.get_host_type() === "component";
/** Where the distributors' sessions live: our host, or a component's parent domain. */
const sessionHost = sessionHostOf(module.host, isComponent);

/** Stops loading on this host, each problem on a line of its own and no traceback. */
function stop(this: void, problems: string[]): never {
  return refuseToLoad((line) => module.log("error", "%s", line), module.host, problems);
}

// Every check that can stop the load comes before the first hook: Prosody 0.12
// leaves a failed module's hooks in place.
const [config, optionProblems] = readConfig((name) => module.get_option(name), {
  host: module.host,
  isComponent,
  backends: supportedBackends(),
});
if (config === undefined) stop(optionProblems);

// Where this instance serves HTTP, against the other instances (docs/design.md, "Startup").
const HTTP_PATHS = [module.get_option("http_paths"), module.context("*").get_option("http_paths")];
const MATRIX_PATH = "/_matrix/push/v1/notify";
const httpHost = module.get_option("http_host") ?? module.host;
const claims = module.shared(`/*/${module.name}/http`) as unknown as LuaTable<string, HttpClaim>;
const otherClaims: HttpClaim[] = [];
for (const [, claim] of claims) otherClaims.push(claim);
const wanted: HttpClaim = {
  host: module.host,
  httpHost: type(httpHost) === "string" ? (httpHost as string) : module.host,
  pushPath: appPath(HTTP_PATHS, "push", "/push", module.host),
  matrixPath: config.matrixGateway
    ? appPath(HTTP_PATHS, "matrix_push_gateway", MATRIX_PATH, module.host)
    : undefined,
};
const { refusal, noGateway } = checkClaim(otherClaims, wanted);
if (refusal !== undefined) stop([refusal]);
if (noGateway !== undefined) module.log("warn", "%s", noGateway);
const servesGateway = wanted.matrixPath !== undefined && noGateway === undefined;

module.depends("http");
module.depends("disco");
module.add_feature(NS);

// module:log's own logger, not a wrapper around module:log: the push path logs
// at debug level, which costs nothing but these calls when debug is off.
const log: Logger = module._log;

const metrics = declareMetrics(module, () => get_metric_registry() !== undefined);

// The module's stores; one that cannot be opened stops the load, naming it.
function keyvalStore<T>(name: string): KeyValStore<T> {
  const [store, problem] = module.open_store<T>(name);
  if (store === undefined) return stop([`cannot open the ${name} store: ${problem}`]);
  return store;
}
function archiveStore(name: string): ArchiveStore {
  const [store, problem] = module.open_store(name, "archive");
  if (store === undefined) return stop([`cannot open the ${name} store: ${problem}`]);
  return store;
}

const [backend, backendProblem] = createBackend(
  config.backend,
  keyvalStore("unified_push"),
  config.secret,
);
if (backend === undefined) {
  stop([`unified_push_backend "${config.backend}" cannot start: ${backendProblem}`]);
}
const backendName = backend.name;

const index = userIndex(
  keyvalStore<UserRecord>("unified_push_users"),
  config.maxRegistrations,
  // A forgotten endpoint takes its record and what it kept along.
  (key, user) => {
    backend.dropRecord(key);
    mailbox.drop(user, key);
  },
);
// Resolved tokens and rate buckets for as many endpoints (bench/README.md, "Scale").
const registry = endpointRegistry(backend, index, config.endpointCache, metrics.revocations);

const pending = pendingPushes({
  send: (stanza) => module.send(stanza),
  addTimer: (delay, callback) => module.add_timer(delay, callback),
  clock: monotonic,
  timeout: config.iqTimeout,
  window: config.answerWindow,
  hasSession: (fullJid) => prosody.full_sessions[fullJid] !== undefined,
  // A distributor that answers again gets what was kept while it was silent.
  recovered: (fullJid) => mailbox.flush(fullJid),
});

const mailbox = newMailbox({
  messages: archiveStore("unified_push_messages"),
  kept: keyvalStore<KeptRecord>("unified_push_kept"),
  maxMessages: config.maxStoredMessages,
  maxBytes: config.maxStoredBytes,
  maxPerEndpoint: math.min(config.maxStoredPerEndpoint, config.maxStoredMessages),
  service: module.host,
  pending,
  entryOf: index.entry,
  revoke: (user, key, entry) => {
    const [ok, reason] = registry.revokeEntry(user, key, entry);
    if (!ok) module.log("warn", "Could not revoke a push endpoint: %s", reason);
  },
  newId: medium,
  now: os.time,
  log,
  removed: metrics.removed,
});

// Gauges are set when Prosody collects, from what pending and the mailbox count anyway.
const levels: Levels = { inFlight: pending.total, stored: mailbox.totals };
module.hook_global("stats-update", () => metrics.update(levels));

// Work over every user runs a slice per timer tick (docs/design.md, "Work over every user").
const slices: SliceBudget = { users: config.purgeSlice, seconds: 0.01, clock: monotonic };
/** Seconds between two slices: the server serves what waits meanwhile. */
const SLICE_PAUSE = 0.02;
const addTimer = (delay: number, callback: (this: void) => number | void) => {
  module.add_timer(delay, callback);
};

// What was kept before the start is summed into the gauges after load, not before serving.
const counting = mailbox.count(slices);
if (counting !== undefined) runWalk(counting, addTimer, SLICE_PAUSE);

let purging = false;
/** The purge's second part: kept messages, after registrations. */
function purgeMessages(this: void, registrations: number): void {
  const sweep = mailbox.sweep(slices, (err) => {
    purging = false;
    if (err !== undefined) module.log("warn", "Could not purge expired push messages: %s", err);
    const messages = sweep?.total() ?? 0;
    if (registrations + messages > 0) {
      module.log(
        "debug",
        "Purged %d expired push registrations, %d messages",
        registrations,
        messages,
      );
    }
  });
  if (sweep === undefined) purging = false;
  else runWalk(sweep, addTimer, SLICE_PAUSE);
}
module.hourly("Purge expired push registrations and messages", () => {
  // One purge at a time: a slow one is not overtaken by the next hour's.
  if (purging) return;
  purging = true;
  const sweep = index.sweep(os.time(), slices, (err) => {
    if (err !== undefined)
      module.log("warn", "Could not purge expired push registrations: %s", err);
    purgeMessages(sweep?.total() ?? 0);
  });
  if (sweep === undefined) purgeMessages(0);
  else runWalk(sweep, addTimer, SLICE_PAUSE);
});

/** Where the push message resources (the Locations of 201s) live under the base. */
const MESSAGE_PREFIX = "message/";

/** The HTTP base of the endpoints; computed on first use (after mod_http is ready). */
let pushBase: string | undefined;
function base(this: void): string {
  pushBase ??= module.http_url("push", "/push");
  return pushBase;
}
/** The base of the push message resources, made once: every delivered push names one. */
let messageBase: string | undefined;
function messageUrl(this: void, tail: string): string {
  messageBase ??= `${base()}/${MESSAGE_PREFIX}`;
  return messageBase + tail;
}
module.hook_global("config-reloaded", () => {
  pushBase = undefined;
  messageBase = undefined;
});

module.hook(`iq-set/host/${NS}:register`, (event) => {
  const answer = answerRegistration(
    {
      config,
      registry,
      backendName: backend.name,
      endpointFor: (token) => `${base()}/${endpointPath(token, urlencode)}`,
      now: os.time,
      log,
      registrations: metrics.registrations,
    },
    event.stanza,
  );
  event.origin.send(answer);
  // A renewal may have moved the endpoint to this (online) full JID.
  const from = event.stanza.attr.from;
  if (answer.attr.type === "result" && from !== undefined) mailbox.flush(from);
  return true;
});

module.hook(`iq-get/host/${NS}:register`, (event) => {
  event.origin.send(
    error_reply(event.stanza, "modify", "bad-request", 'register must be sent with type="set"'),
  );
  return true;
});

// Answers to our pushes, before mod_iq looks for per-id handlers.
module.hook(
  "iq/host",
  (event) => {
    const kind = event.stanza.attr.type;
    if ((kind === "result" || kind === "error") && pending.answer(event.stanza)) return true;
    return undefined;
  },
  10,
);

watchSessions(module, sessionHost, {
  offline: pending.dropTarget,
  online: mailbox.flush,
  deleted: (user) => {
    const [removed, err] = registry.removeUser(user, os.time());
    if (removed === undefined)
      module.log("warn", "Could not remove the push endpoints of a deleted account: %s", err);
    else if (removed > 0)
      module.log("info", "Removed %d push endpoints of a deleted account", removed);
  },
});
const withdrawShellCommands = offerShellCommands(module, sessionHost, {
  registry,
  keptBy: mailbox.keptBy,
  read: () => metrics.read(levels),
  now: os.time,
});
module.unload = () => {
  pending.dropAll();
  withdrawShellCommands();
  claims.delete(module.host);
};

const relay: RelayContext = {
  service: module.host,
  registry,
  pending,
  mailbox,
  messageTtl: config.messageTtl,
  limiter: rateLimiter(config.rateLimit, config.rateBurst, config.endpointCache),
  maxInFlight: config.maxInFlight,
  isAway,
  locationFor: messageUrl,
  keptLocationFor: (reference) => messageUrl(endpointPath(reference, urlencode)),
  newId: medium,
  now: os.time,
  // Durations and rates on the monotonic clock: a wall clock stepped back an hour
  // would leave every endpoint over its rate for that hour.
  clock: monotonic,
  log,
  pushes: metrics.pushes,
  answerTime: metrics.answerTime,
};

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
// CORS on the endpoints is ours, not mod_http's (src/cors.ts says why).
const cors = corsFor(
  corsSettings(module, "push"),
  ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"],
  PUSH_CORS,
);

/** Lets a browser (a request with an Origin) read the answer, as CORS allows. */
function fromBrowser(this: void, event: HttpEvent): void {
  const origin = event.request.headers.origin;
  if (origin !== undefined) cors?.allow(origin, event.response.headers);
}

function methodNotAllowed(this: void, event: HttpEvent) {
  fromBrowser(event);
  event.response.headers.allow = "GET, POST, DELETE, OPTIONS";
  return errors.new("method-not-allowed");
}

const pushRoutes: HttpRoutes = {
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
module.provides("http", {
  name: "push",
  default_path: "/push",
  cors: { enabled: false },
  route: pushRoutes,
});
letModHttpRemoveApp(module.host, "push");

// The Matrix push gateway on the same HTTP host as the endpoints, where Matrix
// apps look for it (README "Matrix push gateway").
if (servesGateway) {
  const gateway: GatewayContext = {
    endpointPrefix: () => `${base()}/`,
    relay: (token, request, response) => relayPushPromised(relay, token, request, response),
    decode: urldecode,
    log,
  };
  // mod_http answers the gateway's CORS, echoing the Origin: the answer depends on it.
  const varyOnOrigin = (event: HttpEvent) => {
    if (event.request.headers.origin !== undefined) event.response.headers.vary = "Origin";
  };
  const refuse = (event: HttpEvent) => {
    varyOnOrigin(event);
    return matrixMethodNotAllowed(event.response);
  };
  module.provides("http", {
    name: "matrix_push_gateway",
    default_path: MATRIX_PATH,
    route: {
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
    },
  });
}

// Routes are in place: later instances see where this one serves.
claims.set(module.host, { ...wanted, matrixPath: servesGateway ? wanted.matrixPath : undefined });

/** Says who is serving where, once mod_http knows its ports (at server start). */
function ready(this: void): void {
  const pushUrl = base();
  const matrixUrl = servesGateway ? module.http_url("matrix_push_gateway", MATRIX_PATH) : undefined;
  module.log("info", "%s", announcement(VERSION, module.host, backendName, pushUrl, matrixUrl));
  const defaultHost = module.get_option("http_default_host");
  const problem = externalUrlProblem({
    pushUrl,
    httpHost: wanted.httpHost,
    isProsodyHost: (host) => prosody.hosts[host] !== undefined,
    defaultHost: type(defaultHost) === "string" ? (defaultHost as string) : undefined,
  });
  if (problem !== undefined) module.log("warn", "%s", problem);
}
// prosody.start_time is set once every host has loaded its modules at start.
if (prosody.start_time === undefined) module.hook_global("server-started", ready);
else ready();
