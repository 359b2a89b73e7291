// mod_unified_push: a UnifiedPush provider for Prosody. This file only wires the
// pieces together: options, dependencies, the registration IQ and the HTTP routes.
import { medium } from "util.id";
import { HttpEvent } from "net.http.server";
import { urlencode } from "util.http";
import { split } from "util.jid";
import { error_reply } from "util.stanza";
import { createBackend, supportedBackends } from "./backends";
import { readConfig } from "./config";
import { errors } from "./errors";
import { Logger } from "./log";
import { NS } from "./protocol";
import { answerRegistration } from "./registration";
import { RelayContext, relayPush } from "./relay";

const config = readConfig((name) => module.get_option(name), {
  host: module.host,
  isComponent: module.get_host_type() === "component",
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

function endpointFor(this: void, token: string): string {
  return `${module.http_url("push", "/push")}/${urlencode(token)}`;
}

module.hook(`iq-set/host/${NS}:register`, (event) => {
  event.origin.send(
    answerRegistration({ config, backend, endpointFor, now: os.time, log }, event.stanza),
  );
  return true;
});

module.hook(`iq-get/host/${NS}:register`, (event) => {
  event.origin.send(
    error_reply(event.stanza, "modify", "bad-request", 'register must be sent with type="set"'),
  );
  return true;
});

/** True for a full JID of one of our own hosts that has no session now. */
function isOffline(this: void, fullJid: string): boolean {
  const [, host] = split(fullJid);
  const ours = host === undefined ? undefined : prosody.hosts[host];
  if (ours === undefined || ours.type !== "local") return false;
  return prosody.full_sessions[fullJid] === undefined;
}

const relay: RelayContext = {
  service: module.host,
  backend,
  iqTimeout: config.iqTimeout,
  sendIq: (stanza, timeout) => module.send_iq(stanza, undefined, timeout),
  isOffline,
  newId: medium,
  now: os.time,
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
    "POST /*": (event: HttpEvent, token: string) =>
      relayPush(relay, token, event.request.body, event.response),
    "PUT /*": methodNotAllowed,
    "DELETE /*": methodNotAllowed,
    "PATCH /*": methodNotAllowed,
  },
});
