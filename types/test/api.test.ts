/** @noSelfInFile */
// Compile-only checks of types/: correct uses must type-check, and each misuse
// marked @ts-expect-error must fail to. Never run; `tsc -p types/test` only.
import * as cachelib from "util.cache";
import * as datetime from "util.datetime";
import * as encodings from "util.encodings";
import * as errors from "util.error";
import * as hashes from "util.hashes";
import * as hex from "util.hex";
import * as http from "util.http";
import * as id from "util.id";
import * as jid from "util.jid";
import * as json from "util.json";
import * as jwt from "util.jwt";
import type * as Paseto from "util.paseto";
import * as promise from "util.promise";
import * as random from "util.random";
import * as setlib from "util.set";
import * as st from "util.stanza";
import * as time from "util.time";
import * as timer from "util.timer";
import type { KeyValStore, MapStore } from "core.storagemanager";
import { get_metric_registry } from "core.statsmanager";
import type { Counter, Gauge, Histogram } from "util.openmetrics";
import type { HttpApp, HttpEvent, HttpRouteResult } from "net.http.server";

/** Assignability check. */
declare function expectType<T>(this: void, value: T): void;
/** Exact type equality, as a type. */
type Equals<A, B> =
  (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
declare function assertTrue<T extends true>(this: void): T;

const NS = "http://gultsch.de/xmpp/drafts/unified-push";

// ---------------------------------------------------------------- module object
expectType<string>(module.host);
expectType<string>(module.name);
// @ts-expect-error host is owned by Prosody
module.host = "example.org";

module.log("info", "Loaded on %s", module.host);
// @ts-expect-error not a log level
module.log("notice", "nope");

// Option getters can give undefined even with a default (unparseable values).
assertTrue<Equals<ReturnType<typeof module.get_option_number>, number | undefined>>();
const ttl = module.get_option_number("unified_push_registration_ttl", 86400) ?? 86400;
expectType<number>(ttl);
expectType<unknown>(module.get_option("unified_push_acl"));
expectType<string | undefined>(module.get_option_string("unified_push_secret"));
expectType<boolean | undefined>(module.get_option_boolean("x", false));
expectType<unknown[]>(module.get_option_array("x", []));
expectType<string | undefined>(module.get_option_path("x"));
const acl = module.get_option_inherited_set("unified_push_acl", []);
for (const entry of acl) expectType<AnyNotNil>(entry);
expectType<true | undefined>(acl.contains("example.org"));

// 13-only members must be feature-detected.
// @ts-expect-error get_option_integer may be missing (Prosody 0.12)
module.get_option_integer("x", 1);
if (module.get_option_integer !== undefined) {
  expectType<number | undefined>(module.get_option_integer("x", 1, 0, 10));
}
// @ts-expect-error get_option_period may be missing (Prosody 0.12)
module.get_option_period("x", "1 day");
const period = module.get_option_period?.("x", "1 day", 60, "1 week");
expectType<number | undefined>(period);
const backend = module.get_option_enum?.("unified_push_backend", "paseto", "storage", "jwt");
// @ts-expect-error get_option_enum still returns values outside the set
expectType<"paseto" | "storage" | "jwt" | undefined>(backend);

expectType<"local" | "component" | "global">(module.get_host_type());
expectType<Prosody.ModuleEnvironment>(module.depends("http"));
const [disco, discoMissing] = module.depends("disco", true);
if (disco === undefined) expectType<"disabled">(discoMissing);
module.add_feature(NS);
module.add_identity("pubsub", "push", "UnifiedPush");
module.add_extension(st.stanza("x", { xmlns: "jabber:x:data" }));
expectType<Prosody.Module>(module.context("example.org"));
expectType<LuaTable<AnyNotNil, unknown>>(module.shared("registrations"));
expectType<string | undefined>(module.get_directory());

// Typed events.
module.hook("iq/host", (event) => {
  expectType<Prosody.Stanza>(event.stanza);
  expectType<Prosody.Session>(event.origin);
  return undefined;
});
module.hook(
  `iq-set/host/${NS}:register`,
  (event) => {
    const query = event.stanza.get_child("register", NS);
    if (query === undefined)
      return event.origin.send(st.error_reply(event.stanza, "modify", "bad-request"));
    event.origin.send(st.reply(event.stanza));
    return true;
  },
  10,
);
module.hook("resource-bind", (event) => {
  expectType<string>(event.session.full_jid);
  return undefined;
});
// Stream management: a session's hibernation, typed on both events and the session.
module.hook("smacks-hibernation-end", (event) => {
  expectType<string>(event.resumed.full_jid);
  expectType<number | undefined>(event.resumed.hibernating);
  return undefined;
});
module.hook("smacks-hibernation-start", (event) => expectType<string>(event.origin.full_jid));
module.hook("pre-presence/full", (event) => expectType<Prosody.Stanza>(event.stanza));
module.hook("some-custom-event", (event) => expectType<unknown>(event));
// @ts-expect-error wrong payload type for a known event
module.hook("resource-unbind", (event: { stanza: Prosody.Stanza }) => event.stanza);
// @ts-expect-error handlers are called with `.`, not with the module as self
module.hook("iq/host", function (this: Prosody.Module, event: Prosody.IqEvent) {
  return event;
});
const onBind: Prosody.EventHandler<Prosody.ResourceBindEvent> = () => undefined;
module.hook("resource-bind", onBind);
module.unhook("resource-bind", onBind);
module.hook_global("server-started", () => undefined);
expectType<unknown>(module.fire_event("module-loaded", { module: "x", host: "example.org" }));

// Lifecycle functions Prosody calls with `.`.
module.unload = () => module.log("info", "bye");
module.save = () => ({ count: 1 });
module.restore = (state) => expectType<unknown>(state);
module.ready = () => undefined;

// Storage: open_store reports failure as a tuple.
const [store, storeError] = module.open_store<{ sub: string }>();
// @ts-expect-error the store may be missing
store.get("user");
if (store === undefined) {
  expectType<string>(storeError);
} else {
  const [value, getError] = store.get(undefined);
  if (getError !== undefined) expectType<string>(getError);
  else expectType<{ sub: string } | undefined>(value);
  const [ok, setError] = store.set("user", { sub: "u@example.org/r" });
  if (!ok) expectType<string>(setError);
  // @ts-expect-error users() is not implemented by every driver
  store.users();
}
const [map] = module.open_store<number>("counts", "map");
if (map !== undefined) {
  expectType<MapStore<number>>(map);
  map.set_keys(undefined, { a: 1, b: map.remove });
}
const [archive] = module.open_store("log", "archive");
if (archive !== undefined) {
  const [items] = archive.find("user", { with: "a@example.org" });
  if (items)
    for (const [itemId, item] of items) expectType<[string, Prosody.Stanza]>([itemId, item]);
}
// @ts-expect-error not a store type
module.open_store("x", "keyval+");

// send_iq: fulfilled with an event, rejected with an error object or a traceback string.
const pushIq = st
  .iq({ type: "set", id: id.medium(), to: "user@example.org/phone" })
  .tag("push", { xmlns: NS });
const delivery = module.send_iq(pushIq, undefined, 30).next(
  (reply) => (reply.stanza.attr.type === "result" ? 201 : 503),
  (reason) => (errors.is_error(reason) && reason.condition === "item-not-found" ? 404 : 503),
);
expectType<promise.Promise<number>>(delivery);
// @ts-expect-error the rejection can also be a traceback string
module.send_iq(pushIq).catch((err: errors.ErrorObject) => err.condition);
module.send(st.message({ to: "user@example.org" }, "hi"));

// Timers: a handle that can be stopped; returning a number reschedules.
const handle = module.add_timer(
  60,
  (now, label: string) => {
    expectType<number>(now);
    expectType<string>(label);
    return 60;
  },
  "cleanup",
);
handle.stop();
handle.reschedule(10);
// @ts-expect-error extra arguments must match the callback
module.add_timer(1, (_now, n: number) => n, "not a number");
module.daily("prune", (started_at) => expectType<number>(started_at));

// Metrics.
const countPush = module.measure("pushes", "rate");
countPush();
const timePush = module.measure("push_time", "times");
const done = timePush();
done();
const outcomes = module.metric("counter", "pushes", "", "Pushes by outcome", ["outcome"]);
outcomes.with_labels("delivered").add(1);
const latency = module.metric("histogram", "latency", "seconds", "Push latency", [], {
  buckets: [0.1, 1, 10],
});
latency.with_labels().sample(0.5);
// @ts-expect-error histograms need buckets
module.metric("histogram", "latency2", "seconds", "Push latency", []);
// @ts-expect-error 0.12 needs the labels, even none
module.metric("counter", "no_labels", "", "Missing labels");
const delivered: Counter = outcomes.with_labels("delivered");
// @ts-expect-error a counter takes no samples
delivered.sample(1);
const inFlight: Gauge = module.metric("gauge", "in_flight", "", "Pushes waiting", []).with_labels();
inFlight.set(3);
const answered: Histogram = latency.with_labels();
for (const [suffix, labels, value] of answered.iter_samples()) {
  expectType<string>(suffix);
  expectType<string | undefined>(labels?.le);
  expectType<number>(value);
}
// Statistics may be off: then there is no registry, and metrics read nothing.
const metrics = get_metric_registry();
// @ts-expect-error the registry may be missing
metrics.render();
if (metrics !== undefined) expectType<string>(metrics.render());
module.hook_global("stats-update", (nothing) => {
  expectType<undefined>(nothing);
  inFlight.set(0);
});

// Admin shell (13; harmless on 0.12).
module.add_item("shell-command", {
  section: "unified_push",
  section_desc: "UnifiedPush registrations",
  name: "list",
  desc: "List a user's registrations",
  args: [{ name: "user", type: "string" }],
  host_selector: "user",
  handler(user) {
    this.session.print(`registrations of ${tostring(user)}`);
    return $multi(true, "done");
  },
});
// Whether anything listens for an event (mod_admin_shell for commands on 13).
const listeners = prosody.events.get_handlers("item-added/shell-command");
if (listeners !== undefined) expectType<number>(listeners.length);
// @ts-expect-error a shell command needs desc and args
module.add_item("shell-command", { section: "x", name: "y", handler: () => true });
module.add_item("my-item", { anything: true });

// 13-only permission helpers.
// @ts-expect-error may() does not exist on 0.12
module.may(":register", "user@example.org");
if (module.may !== undefined) expectType<boolean>(module.may(":register", "user@example.org"));

// ---------------------------------------------------------------- HTTP
module.depends("http");
expectType<string>(module.http_url("push", "/push"));
function discovery(this: void, event: HttpEvent): HttpRouteResult {
  event.response.headers.content_type = "application/json";
  return '{"unifiedpush":{"version":1}}';
}
const app: HttpApp = {
  name: "push",
  default_path: "/push",
  cors: { enabled: true, headers: { "Content-Encoding": true, TTL: true } },
  route: {
    "GET /*": discovery,
    "POST /*": (event, token) => {
      expectType<string>(token);
      expectType<string>(event.request.body);
      expectType<string | undefined>(event.request.headers.content_encoding);
      if (event.request.body === "") return 400;
      return promise.resolve(201);
    },
    OPTIONS: "",
    "DELETE /*": () => errors.new({ type: "cancel", condition: "not-allowed", code: 405 }),
  },
};
module.provides("http", app);
// @ts-expect-error CORS settings only apply with `enabled`
module.provides("http", { route: {}, cors: { headers: { TTL: true } } });
module.provides("http", {
  route: {
    // @ts-expect-error route handlers are called with `.`
    GET: function (this: HttpEvent) {
      return 200;
    },
  },
});
module.provides("http", {
  route: {
    POST: (event) => {
      event.response.headers.retry_after = "60";
      event.response.status_code = 503;
      event.response.send("later");
      return true;
    },
  },
});

// ---------------------------------------------------------------- prosody global
const host = prosody.hosts[module.host];
if (host !== undefined) expectType<"local" | "component">(host.type);
expectType<Prosody.ClientSession | undefined>(prosody.full_sessions["u@example.org/r"]);
// @ts-expect-error started is a Prosody 13 addition
prosody.started.next(() => undefined);

// ---------------------------------------------------------------- util.stanza
const message = st
  .message({ to: "a@example.org", type: "chat" })
  .text_tag("body", "hi")
  .tag("x", { xmlns: "y" })
  .up();
expectType<string>(tostring(message));
expectType<string | undefined>(message.get_child_text("body"));
expectType<string | undefined>(message.attr.to);
for (const child of message.childtags()) expectType<Prosody.Stanza>(child);
for (const node of message.children()) expectType<Prosody.Stanza | string>(node);
const [errorType, condition] = message.get_error();
if (errorType !== undefined) expectType<string>(condition);
// @ts-expect-error get_child_attr is Prosody 13 only
message.get_child_attr("x", "y", "z");
// @ts-expect-error iq() needs an id
st.iq({ type: "get" });
// @ts-expect-error not an error condition
st.error_reply(message, "cancel", "no-such-condition");
expectType<Prosody.Stanza>(
  st.error_reply(message, errors.new({ type: "wait", condition: "resource-constraint" })),
);
expectType<boolean>(st.is_stanza(message));

// ---------------------------------------------------------------- util.jid
const [node, domain, resource] = jid.split("user@example.org/phone");
if (domain !== undefined) {
  expectType<string>(domain);
  expectType<string | undefined>(node);
  expectType<string | undefined>(resource);
}
expectType<string | undefined>(jid.prep("User@Example.org"));
expectType<string | undefined>(jid.bare(undefined));
expectType<string>(jid.join("user", "example.org"));
expectType<boolean>(jid.compare("user@example.org/r", "example.org"));

// ---------------------------------------------------------------- util.error
const registry = errors.init("unified_push", {
  "bad-request": ["modify", "bad-request", "Invalid registration"],
  "unknown-endpoint": { type: "cancel", condition: "item-not-found", code: 404 },
});
expectType<errors.ErrorObject>(registry.new("unknown-endpoint"));
// @ts-expect-error not a key of this registry
registry.new("no-such-error");
const wrapped = errors.new({ type: "modify", condition: "bad-request", text: "x" });
expectType<string | undefined>(wrapped.text);
expectType<unknown>(wrapped.context.wrapped_error);

// ---------------------------------------------------------------- util.promise
const p = promise.new<string>((resolve) => resolve("x"));
expectType<promise.Promise<number>>(p.next((s) => s.length));
expectType<promise.Promise<string[]>>(promise.all([p, "y"]));
expectType<promise.Promise<never, string>>(promise.reject("why"));
p.finally(() => undefined);
// @ts-expect-error util.promise has no `then`, so it is not awaitable
p.then(() => undefined);

// ---------------------------------------------------------------- util.jwt
const token = jwt.sign("secret", { sub: "user@example.org/r", exp: 0 });
const [verified, claims] = jwt.verify("secret", token);
if (verified) expectType<unknown>(claims);
else expectType<jwt.JwtError>(claims);
// @ts-expect-error init exists only on Prosody 13
jwt.init("HS256", "secret");
if (jwt.init !== undefined) {
  const [signer, verifier] = jwt.init("HS256", "secret", undefined, { default_ttl: 60 });
  const [ok, payload] = verifier(signer({ sub: "x" }));
  // @ts-expect-error the payload is an error string until `ok` is checked
  expectType<jwt.JwtPayload>(payload);
  if (ok) expectType<jwt.JwtPayload>(payload);
}

// ---------------------------------------------------------------- util.paseto (13)
const [hasPaseto, pasetoLib] = pcall(require, "util.paseto");
const paseto: typeof Paseto | undefined = hasPaseto ? (pasetoLib as typeof Paseto) : undefined;
if (paseto !== undefined) {
  const key = paseto.v3_local.new_key();
  const [encrypt, decrypt] = paseto.v3_local.init(key);
  const [sealed, sealError] = encrypt({ sub: "x" });
  if (sealed === undefined) expectType<string>(sealError);
  else {
    const [opened, openError] = decrypt(sealed);
    if (opened === undefined) expectType<Paseto.PasetoError>(openError);
    else expectType<unknown>(opened.sub);
  }
}

// ---------------------------------------------------------------- small libraries
expectType<string>(datetime.datetime(os.time()));
expectType<number | undefined>(datetime.parse("2024-01-01T00:00:00Z"));
expectType<string>(id.short());
expectType<string | undefined>(encodings.base64.decode("AAAA"));
expectType<string>(encodings.base64.encode(random.bytes(32)));
expectType<boolean>(encodings.utf8.valid("x"));
expectType<string>(hashes.hmac_sha256("key", "data", true));
expectType<boolean>(hashes.equals("a", "b"));
// @ts-expect-error hkdf exists only on Prosody 13
hashes.hkdf_hmac_sha384(48, "key");
expectType<string>(hex.encode("x"));
expectType<string>(http.urlencode("a b"));
expectType<string | undefined>(http.urlencode(undefined));
const [decoded, decodeError] = json.decode('{"a":1}');
if (decodeError !== undefined) expectType<undefined>(decoded);
expectType<object>(json.null);
expectType<number>(time.now() - time.monotonic());
const timerId = timer.add_task(5, (now) => (now > 0 ? undefined : 1));
timer.stop(timerId);

const set = setlib.new(["a", "b"]);
set.add("c");
for (const item of set) expectType<string>(item);
for (const [item] of set.items()) expectType<string>(item);
// @ts-expect-error sets hold one element type
set.add(1);

const cache = cachelib.new<string, number>(100, (key, value) => {
  expectType<string>(key);
  expectType<number>(value);
});
cache.set("a", 1);
expectType<number | undefined>(cache.get("a"));
for (const [key, value] of cache.items()) expectType<[string, number]>([key, value]);
const [oldestKey] = cache.tail();
expectType<string | undefined>(oldestKey);

expectType<KeyValStore<unknown> | undefined>(module.open_store()[0]);
