// mod_unified_push: a UnifiedPush provider for Prosody. This file only wires the
// pieces together: options, dependencies, stores, hooks and HTTP routes.
import { HttpEvent } from "net.http.server";
import { KeyValStore } from "core.storagemanager";
import { medium } from "util.id";
import { urldecode, urlencode } from "util.http";
import { split } from "util.jid";
import { error_reply } from "util.stanza";
import { monotonic, now as clock } from "util.time";
import { createBackend, supportedBackends } from "./backends";
import { readConfig } from "./config";
import { endpointPath, tokenOf } from "./endpoint";
import { errors } from "./errors";
import { Logger } from "./log";
import {
  discover,
  GatewayContext,
  methodNotAllowed as matrixMethodNotAllowed,
  notify,
} from "./matrix";
import { pendingPushes } from "./pending";
import { NS } from "./protocol";
import { rateLimiter } from "./ratelimit";
import { answerRegistration } from "./registeriq";
import { RelayContext, relayPush } from "./relay";
import { endpointRegistry } from "./registry";
import { userIndex, UserRecord } from "./userindex";

const isComponent = module.get_host_type() === "component";
const config = readConfig((name) => module.get_option(name), {
  host: module.host,
  isComponent,
  backends: supportedBackends(),
});

module.depends("http");
module.depends("disco");
module.add_feature(NS);

const log: Logger = (level, message, ...args) => module.log(level, message, ...args);

const [store, storeProblem] = module.open_store();
if (store === undefined) error(`cannot open the unified_push store: ${storeProblem}`, 0);
const [backend, backendProblem] = createBackend(config.backend, store, config.secret);
if (backend === undefined) {
  error(`unified_push_backend "${config.backend}" cannot start: ${backendProblem}`, 0);
}
module.log("info", "Using the %s backend", backend.name);

const [userStore, userStoreProblem] = module.open_store("unified_push_users");
if (userStore === undefined)
  error(`cannot open the unified_push_users store: ${userStoreProblem}`, 0);
const index = userIndex(
  userStore as KeyValStore<UserRecord>,
  config.maxRegistrations,
  backend.dropRecord,
);
/** Resolved tokens remembered (a few MB at most with paseto's ~350-character tokens). */
const RESOLVED_TOKENS = 4096;
const registry = endpointRegistry(backend, index, RESOLVED_TOKENS);
module.hourly("Purge expired push registrations", () => {
  const removed = index.sweep(os.time());
  if (removed !== undefined && removed > 0)
    module.log("debug", "Purged %d expired push registrations", removed);
});

/** The HTTP base of the endpoints; computed on first use (after mod_http is ready). */
let pushBase: string | undefined;
function base(this: void): string {
  pushBase ??= module.http_url("push", "/push");
  return pushBase;
}
module.hook_global("config-reloaded", () => {
  pushBase = undefined;
});

module.hook(`iq-set/host/${NS}:register`, (event) => {
  event.origin.send(
    answerRegistration(
      {
        config,
        registry,
        backendName: backend.name,
        endpointFor: (token) => `${base()}/${endpointPath(token, urlencode)}`,
        now: os.time,
        log,
      },
      event.stanza,
    ),
  );
  return true;
});

module.hook(`iq-get/host/${NS}:register`, (event) => {
  event.origin.send(
    error_reply(event.stanza, "modify", "bad-request", 'register must be sent with type="set"'),
  );
  return true;
});

const pending = pendingPushes({
  send: (stanza) => module.send(stanza),
  addTimer: (delay, callback) => module.add_timer(delay, callback),
  clock: monotonic,
  timeout: config.iqTimeout,
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

// A distributor that goes offline will not answer: settle its pushes now. Its
// sessions live on our host, or for a component on the parent domain.
const [userHost] = string.match(module.host, "^[^.]+%.(.+)$");
const sessionHost = isComponent && userHost !== undefined ? userHost : module.host;
/** The event source of the session host we watch (a reactivated host gets a new one). */
let watched: unknown;
function watchSessions(this: void): void {
  const events = prosody.hosts[sessionHost]?.events;
  if (events === undefined || events === watched) return;
  watched = events;
  module.context(sessionHost).hook("resource-unbind", (event) => {
    const fullJid = event.session.full_jid;
    if (fullJid !== undefined) pending.dropTarget(fullJid);
  });
}
// The host may be activated later (a component can load before its parent
// domain) or again (deactivated and reactivated, with new event handlers).
watchSessions();
module.hook_global("host-activated", (host) => {
  if (host === sessionHost) watchSessions();
});
module.unload = () => pending.dropAll();

/** True for a full JID of one of our own hosts that has no session now. */
function isOffline(this: void, fullJid: string): boolean {
  const [, host] = split(fullJid);
  const ours = host === undefined ? undefined : prosody.hosts[host];
  if (ours === undefined || ours.type !== "local") return false;
  return prosody.full_sessions[fullJid] === undefined;
}

const relay: RelayContext = {
  service: module.host,
  registry,
  pending,
  limiter: rateLimiter(config.rateLimit, config.rateBurst, 10000),
  maxInFlight: config.maxInFlight,
  isOffline,
  locationFor: (id) => `${base()}/message/${id}`,
  newId: medium,
  now: os.time,
  clock,
  log,
};

const DISCOVERY = '{"unifiedpush":{"version":1}}';

function methodNotAllowed(this: void, event: HttpEvent) {
  event.response.headers.allow = "GET, POST, OPTIONS";
  return errors.new("method-not-allowed");
}

module.provides("http", {
  name: "push",
  default_path: "/push",
  // Browser-based app servers POST Web Push requests cross-origin.
  cors: {
    enabled: true,
    headers: {
      "Content-Encoding": true,
      TTL: true,
      Urgency: true,
      Topic: true,
      "Content-Type": true,
      Authorization: true,
    },
  },
  route: {
    "GET /*": (event: HttpEvent) => {
      event.response.headers.content_type = "application/json";
      return DISCOVERY;
    },
    "POST /*": (event: HttpEvent, path: string) =>
      relayPush(
        relay,
        tokenOf(path, event.request.url.query, urldecode),
        event.request,
        event.response,
      ),
    "PUT /*": methodNotAllowed,
    "DELETE /*": methodNotAllowed,
    "PATCH /*": methodNotAllowed,
  },
});

// The Matrix push gateway on the same HTTP host as the endpoints, where Matrix
// apps look for it (README "Matrix push gateway").
if (config.matrixGateway) {
  const gateway: GatewayContext = {
    endpointPrefix: () => `${base()}/`,
    relay: (token, request, response) => relayPush(relay, token, request, response),
    decode: urldecode,
    log,
  };
  const refuse = (event: HttpEvent) => matrixMethodNotAllowed(event.response);
  module.provides("http", {
    name: "matrix_push_gateway",
    default_path: "/_matrix/push/v1/notify",
    route: {
      GET: (event: HttpEvent) => discover(event.response),
      POST: (event: HttpEvent) => notify(gateway, event.request, event.response),
      PUT: refuse,
      DELETE: refuse,
      PATCH: refuse,
    },
  });
}
