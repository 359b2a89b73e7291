// mod_unified_push: a UnifiedPush provider for Prosody. This file only wires the
// pieces together: options, dependencies, metrics, stores, hooks, the HTTP side
// (http.ts) and the admin shell's commands (shell.ts).
import { get_metric_registry } from "core.statsmanager";
import { ArchiveStore, KeyValStore } from "core.storagemanager";
import { medium } from "util.id";
import { createBackend, supportedBackends } from "./backends";
import { Registration } from "./backends/backend";
import { checkBeforeHooks } from "./config";
import { endpoints as newEndpoints } from "./endpoints";
import { MATRIX_PATH, pushUrls, serveHttp } from "./http";
import { Logger } from "./log";
import { KeptRecord, mailbox as newMailbox } from "./mailbox";
import { declareMetrics, Levels } from "./metrics";
import { Batch, FOLD_SLICE, journal as newJournal } from "./journal";
import { hookAnswers, pendingPushesOf } from "./pending";
import { NS } from "./protocol";
import { hookRegistration } from "./registeriq";
import { sliceOf } from "./slices";
import { scheduleUpkeep } from "./upkeep";
import { sessionHostOf, watchSessions } from "./sessions";
import { offerShellCommands } from "./shell";
import { announceWhenReady } from "./startup";
import { userIndex, UserRecord } from "./userindex";
import { ListRecord, userLists } from "./userlist";
import { VERSION } from "./version";

const { config, claimed, isComponent, stop } = checkBeforeHooks(
  module,
  MATRIX_PATH,
  supportedBackends(),
);
/** Where the distributors' sessions live: our host, or a component's parent domain. */
const sessionHost = sessionHostOf(module.host, isComponent);

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
  return store ?? stop([`cannot open the ${name} store: ${problem}`]);
}
function archiveStore(name: string): ArchiveStore {
  const [store, problem] = module.open_store(name, "archive");
  return store ?? stop([`cannot open the ${name} store: ${problem}`]);
}

// What registrations write goes through the journal (docs/design.md, "The journal"), and
// walks go by lists of users the stores' writes keep ("Work over every user").
const writes = newJournal({
  store: keyvalStore<Batch>("unified_push_journal"),
  addTimer: (delay, callback) => module.add_timer(delay, callback),
  foldDelay: config.journalDelay,
  maxUnfolded: config.endpointCache,
  budget: sliceOf(FOLD_SLICE),
  log,
});
const backendStore = keyvalStore<Registration>("unified_push");
const tokenStore = writes.open("tokens", backendStore);
const lists = userLists(writes.open("lists", keyvalStore<ListRecord>("unified_push_lists")));
const indexStore = writes.open("users", keyvalStore<UserRecord>("unified_push_users"));
// Before anything reads those stores: what a restart left in the journal.
const unread = writes.replay();
if (unread !== undefined) stop([`cannot read the unified_push_journal store: ${unread}`]);
const [made, why] = createBackend(config.backend, backendStore, tokenStore, config.secret);
const backend = made ?? stop([`unified_push_backend "${config.backend}" cannot start: ${why}`]);
// Resolved tokens and index records for as many endpoints (bench/README.md, "Scale").
const index = userIndex({
  store: lists.listed("users", indexStore),
  cacheSize: config.endpointCache,
});
const endpoints = newEndpoints({
  backend,
  index,
  maxPerUser: config.maxRegistrations,
  cacheSize: config.endpointCache,
  revocations: metrics.revocations,
});

const pending = pendingPushesOf(module, config.iqTimeout, config.answerWindow);
const mailbox = newMailbox({
  messages: archiveStore("unified_push_messages"),
  kept: lists.listed("kept", keyvalStore<KeptRecord>("unified_push_kept")),
  maxMessages: config.maxStoredMessages,
  maxBytes: config.maxStoredBytes,
  maxPerEndpoint: math.min(config.maxStoredPerEndpoint, config.maxStoredMessages),
  service: module.host,
  pending,
  endpoints,
  newId: medium,
  now: os.time,
  later: (callback) => module.add_timer(0, callback),
  log,
  removed: metrics.removed,
});

// Gauges are set when Prosody collects, from what pending and the mailbox count anyway.
const levels: Levels = { inFlight: pending.total, stored: mailbox.totals };
module.hook_global("stats-update", () => metrics.update(levels));

scheduleUpkeep(module, endpoints, mailbox, config.purgeSlice);

const urls = pushUrls(module);
hookRegistration(
  module,
  {
    config,
    endpoints,
    backendName: backend.name,
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
  deleted: (user) => endpoints.removeUser(user, os.time()),
});
const withdrawShellCommands = offerShellCommands(module, sessionHost, {
  endpoints,
  keptBy: mailbox.keptBy,
  read: () => metrics.read(levels),
  now: os.time,
});
module.unload = () => {
  pending.dropAll();
  writes.close();
  withdrawShellCommands();
  claimed.release();
};

const relayed = { config, endpoints, pending, mailbox, metrics, log };
serveHttp(module, urls, relayed, claimed.servesGateway);
// Routes are in place: later instances see where this one serves.
claimed.publish();
announceWhenReady(module, VERSION, backend.name, claimed, urls.base, MATRIX_PATH);
