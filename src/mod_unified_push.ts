// mod_unified_push: a UnifiedPush provider for Prosody. This file only wires the
// pieces together: options, dependencies, metrics, stores, hooks, the HTTP side
// (http.ts) and the admin shell's commands (shell.ts).
import { get_metric_registry } from "core.statsmanager";
import { ArchiveStore, KeyValStore } from "core.storagemanager";
import { medium } from "util.id";
import { monotonic } from "util.time";
import { createBackend, supportedBackends } from "./backends";
import { readConfig } from "./config";
import { MATRIX_PATH, pushUrls, serveHttp } from "./http";
import { Logger } from "./log";
import { KeptRecord, mailbox as newMailbox } from "./mailbox";
import { declareMetrics, Levels } from "./metrics";
import { hookAnswers, pendingPushes } from "./pending";
import { NS } from "./protocol";
import { rateLimiter } from "./ratelimit";
import { hookRegistration } from "./registeriq";
import { RelayContext } from "./relay";
import { endpointRegistry } from "./registry";
import { runWalk, SliceBudget } from "./slices";
import { isAway, sessionHostOf, watchSessions } from "./sessions";
import { offerShellCommands } from "./shell";
import { announceWhenReady, claimHttp, refuseToLoad } from "./startup";
import { userIndex, UserRecord } from "./userindex";
import { VERSION } from "./version";

const isComponent = module.get_host_type() === "component";
/** Where the distributors' sessions live: our host, or a component's parent domain. */
const sessionHost = sessionHostOf(module.host, isComponent);

/** Stops loading on this host, each problem on a line of its own and no traceback. */
function stop(this: void, problems: readonly string[]): never {
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
const claimed = claimHttp(module, config.matrixGateway ? MATRIX_PATH : undefined, stop);

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
  later: (callback) => module.add_timer(0, callback),
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

const urls = pushUrls(module);
hookRegistration(
  module,
  {
    config,
    registry,
    backendName,
    endpointFor: urls.endpointFor,
    now: os.time,
    log,
    registrations: metrics.registrations,
  },
  // A renewal may have moved the endpoint to this (online) full JID.
  mailbox.flush,
);

hookAnswers(module, pending);

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
  claimed.release();
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
  locationFor: urls.locationFor,
  keptLocationFor: urls.keptLocationFor,
  newId: medium,
  now: os.time,
  // Durations and rates on the monotonic clock: a wall clock stepped back an hour
  // would leave every endpoint over its rate for that hour.
  clock: monotonic,
  log,
  pushes: metrics.pushes,
  answerTime: metrics.answerTime,
};

serveHttp(module, relay, urls, claimed.servesGateway);
// Routes are in place: later instances see where this one serves.
claimed.publish();
announceWhenReady(module, VERSION, backendName, claimed, urls.base, MATRIX_PATH);
