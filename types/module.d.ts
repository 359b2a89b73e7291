/** @noSelfInFile */

// The environment Prosody gives a module: the `module` object (core.moduleapi plus
// the fields modulemanager sets), the `prosody` global, and the events, sessions and
// items the module API deals with. Declared against Prosody 0.12.3 and 13.0.1;
// members only 13 has are optional, so code must check for them.

/** Types of Prosody's module environment (type-only: nothing here exists at runtime). */
declare namespace Prosody {
  type Stanza = import("util.stanza").Stanza;
  type ErrorObject = import("util.error").ErrorObject;
  type Promise<T, E = unknown> = import("util.promise").Promise<T, E>;
  type Set<T extends AnyNotNil> = import("util.set").Set<T>;
  type KeyValStore<T = unknown> = import("core.storagemanager").KeyValStore<T>;
  type MapStore<T = unknown> = import("core.storagemanager").MapStore<T>;
  type ArchiveStore = import("core.storagemanager").ArchiveStore;
  type HttpApp = import("net.http.server").HttpApp;

  type LogLevel = "debug" | "info" | "warn" | "error";

  /** A log function; `message` is a format string (`%s`, `%d`, ...). Called with `.`. */
  type LogFunction = (this: void, level: LogLevel, message: string, ...args: unknown[]) => void;

  type SessionType =
    | "c2s"
    | "c2s_unauthed"
    | "s2sin"
    | "s2sin_unauthed"
    | "s2sout"
    | "s2sout_unauthed"
    | "component"
    | "local";

  /**
   * A session stanzas come from or go to: a client (c2s), a server (s2s), a
   * component connection, or a host itself (type "local"/"component", as
   * `prosody.hosts[host]`). Fields depend on the kind.
   */
  interface Session {
    readonly type: SessionType;
    readonly id?: string;
    /** The local host this session belongs to (c2s, hosts). */
    readonly host?: string;
    readonly username?: string;
    readonly resource?: string;
    /** Full JID of a bound client session. */
    readonly full_jid?: string;
    readonly ip?: string;
    readonly secure?: boolean;
    /** Last available presence of a client session. */
    readonly presence?: Stanza;
    readonly priority?: number;
    /** Sends a stanza (or raw string) on this session; called with `.`. */
    readonly send: (this: void, stanza: Stanza | string) => boolean | undefined | void;
    /** Session-specific logger; called with `.`. Absent on host sessions. */
    readonly log?: LogFunction;
  }

  /** A client session after resource binding. */
  interface ClientSession extends Session {
    readonly type: "c2s";
    readonly username: string;
    readonly host: string;
    readonly resource: string;
    readonly full_jid: string;
    /**
     * Stream management (XEP-0198, core `mod_smacks` on 0.12 and 13): set, to the
     * time it started (seconds since the epoch), while the session has lost its
     * connection and waits `smacks_hibernation_time` to be resumed. Stanzas sent
     * to it meanwhile are queued, not delivered.
     * @see https://prosody.im/doc/modules/mod_smacks
     */
    readonly hibernating?: number;
  }

  /**
   * `smacks-hibernation-start`: a session lost its connection and hibernates
   * (fired on the session's host by mod_smacks).
   */
  interface SmacksHibernationStartEvent {
    readonly origin: ClientSession;
  }

  /**
   * `smacks-hibernation-end`: a hibernating session was resumed, after its queued
   * stanzas were sent again. `resumed` is the original (now live) session,
   * `origin` the connection it came back on.
   */
  interface SmacksHibernationEndEvent {
    readonly origin: Session;
    readonly resumed: ClientSession;
  }

  /** Objects from util.events (e.g. `prosody.events`, a host's `events`); functions are called with `.`. */
  interface EventSource {
    readonly add_handler: (
      this: void,
      event: string,
      handler: EventHandler<unknown>,
      priority?: number,
    ) => void;
    readonly remove_handler: (this: void, event: string, handler: EventHandler<unknown>) => void;
    readonly fire_event: (this: void, event: string, data?: unknown) => unknown;
    /** The handlers of an event, highest priority first; `undefined` when it has none. */
    readonly get_handlers: (
      this: void,
      event: string,
    ) => readonly EventHandler<unknown>[] | undefined;
  }

  /** `prosody.hosts[host]`: a VirtualHost ("local") or Component ("component"). */
  interface HostSession extends Session {
    readonly type: "local" | "component";
    readonly host: string;
    readonly events: EventSource;
    /** Bare usernames with sessions (VirtualHosts only). */
    readonly sessions?: { readonly [username: string]: unknown };
  }

  /** A stanza routing event (`iq/host`, `presence/full`, `message/bare`, ...). */
  interface StanzaEvent {
    readonly origin: Session;
    readonly stanza: Stanza;
    /** Set when a client addressed its own account. */
    readonly to_self?: boolean;
  }

  /** An IQ routing event (`iq/host`, `iq-set/host/<xmlns>:<name>`, `iq-result/host/<id>`, ...). */
  type IqEvent = StanzaEvent;

  /**
   * What `module:send_iq()` fulfils with. Usually the reply event (with `origin`),
   * but when the server itself bounces the IQ (e.g. `service-unavailable` for a
   * full JID with no session) the promise is fulfilled with `{ stanza }` holding
   * that bounce: check `stanza.attr.type === "result"` before treating it as a
   * delivery.
   */
  interface IqResultEvent {
    readonly stanza: Stanza;
    readonly origin?: Session;
  }

  interface ResourceBindEvent {
    readonly session: ClientSession;
  }

  interface ResourceUnbindEvent {
    readonly session: ClientSession;
    readonly error?: unknown;
  }

  interface ModuleEvent {
    readonly module: string;
    readonly host: string;
  }

  interface UserDeletedEvent {
    readonly username: string;
    readonly host: string;
  }

  interface ItemEvent<T> {
    readonly source: Module;
    readonly item: T;
  }

  /**
   * Event payloads by name. Extend it for your own events:
   * `declare global { namespace Prosody { interface EventMap { "my-event": MyData } } }`.
   */
  interface EventMap {
    readonly [event: `iq/${string}`]: IqEvent;
    readonly [event: `iq-${string}`]: IqEvent;
    readonly [event: `presence/${string}`]: StanzaEvent;
    readonly [event: `pre-presence/${string}`]: StanzaEvent;
    readonly [event: `message/${string}`]: StanzaEvent;
    readonly [event: `pre-message/${string}`]: StanzaEvent;
    readonly [event: `stanza/${string}`]: StanzaEvent;
    readonly [event: `item-added/${string}`]: ItemEvent<unknown>;
    readonly [event: `item-removed/${string}`]: ItemEvent<unknown>;
    readonly "resource-bind": ResourceBindEvent;
    readonly "pre-resource-unbind": ResourceUnbindEvent;
    readonly "resource-unbind": ResourceUnbindEvent;
    readonly "smacks-hibernation-start": SmacksHibernationStartEvent;
    readonly "smacks-hibernation-end": SmacksHibernationEndEvent;
    readonly "module-loaded": ModuleEvent;
    readonly "module-unloaded": ModuleEvent;
    readonly "module-reloaded": ModuleEvent;
    /** Global event; no payload. */
    readonly "server-started": undefined;
    /** Global event: the host being activated. */
    readonly "host-activated": string;
    /** Global event: an account was deleted (usermanager.delete_user). */
    readonly "user-deleted": UserDeletedEvent;
    /**
     * Global event, no payload: statistics are about to be collected (every
     * `statistics_interval`, or before each scrape when it is `"manual"`). Set
     * gauges here. Never fired while statistics are off.
     */
    readonly "stats-update": undefined;
  }

  /** The payload of event `K`: from `EventMap`, `unknown` for events it does not list. */
  type EventPayload<K extends string> = K extends keyof EventMap ? EventMap[K] : unknown;

  /**
   * An event handler, called with `.`. Returning anything but `undefined` stops
   * the event (`true` means "handled"); the value becomes `fire_event`'s result.
   */
  type EventHandler<E> = (this: void, event: E) => unknown;

  /** Timer callback for `module:add_timer`: return a number to run again that many seconds later. */
  type TimerCallback<A extends unknown[]> = (this: void, now: number, ...args: A) => number | void;

  /** Handle from `module:add_timer` (0.12 and 13). */
  interface TimerHandle {
    /** Cancels the timer (harmless after it has run). */
    stop(this: TimerHandle): void;
    /** Same as `stop`. */
    disarm(this: TimerHandle): void;
    /** Moves the next run to `delay` seconds from now (only while it is pending). */
    reschedule(this: TimerHandle, delay: number): void;
  }

  /** Options of `module:measure()`. */
  interface MeasureOptions {
    readonly description?: string;
    readonly unit?: string;
    /** Initial value of an "amount". */
    readonly initial?: number;
    /** Histogram buckets for "times" and "sizes". */
    readonly buckets?: readonly number[];
  }

  type GaugeMetric = import("util.openmetrics").Gauge;
  type CounterMetric = import("util.openmetrics").Counter;
  type HistogramMetric = import("util.openmetrics").Histogram;
  type SummaryMetric = import("util.openmetrics").Summary;
  /**
   * A metric family from `module:metric()` (see util.openmetrics). For a host
   * module the `host` label is already filled in with the module's host.
   */
  type MetricFamily<M extends import("util.openmetrics").Metric> =
    import("util.openmetrics").MetricFamily<M>;

  /** An admin shell command context (`self` in the command). */
  interface ShellCommandContext {
    readonly session: {
      /** Prints a line to the console; called with `.`. */
      readonly print: (this: void, ...values: unknown[]) => void;
      /** Console width in characters. */
      readonly width: number;
    };
  }

  /**
   * Prosody 13 admin shell command, added with `module:add_item("shell-command", …)`
   * and invoked as `section:name(args)` in `prosodyctl shell`. 0.12 accepts the
   * item but has no shell that uses it.
   */
  interface ShellCommand {
    readonly section: string;
    readonly section_desc?: string;
    readonly name: string;
    readonly desc: string;
    readonly help?: string;
    readonly args: readonly { readonly name: string; readonly type?: string }[];
    /**
     * Name of the argument holding a JID whose host selects the module instance
     * to run. Required when the module is loaded on a host (not global): without
     * it the command is ignored with a warning.
     */
    readonly host_selector?: string;
    /** Called with `:` on the shell section; arguments are Lua values from the console. */
    readonly handler: (
      this: ShellCommandContext,
      ...args: unknown[]
    ) => LuaMultiReturn<[ok: boolean, message?: string]> | boolean | void;
  }

  /** A cron task (mod_cron); `run` is called with `:` on the task. */
  interface CronTask {
    readonly name?: string;
    readonly id?: string;
    readonly when: "hourly" | "daily" | "weekly";
    readonly run: (this: CronTask, started_at: number) => void;
  }

  /** Items with a known shape for `module:add_item`. */
  interface ItemMap {
    readonly feature: string;
    readonly identity: { readonly category: string; readonly type: string; readonly name?: string };
    readonly extension: Stanza;
    readonly "shell-command": ShellCommand;
    readonly task: CronTask;
  }

  /** The module's environment table (what `module:depends()` returns for another module). */
  interface ModuleEnvironment {
    readonly module: Module;
    readonly [name: string]: unknown;
  }

  /**
   * The `module` object: core.moduleapi methods (called with `:`), the fields
   * modulemanager sets, and the lifecycle functions a module may assign.
   * @see https://prosody.im/doc/developers/moduleapi
   */
  interface Module {
    /** Module name, without `mod_`. */
    readonly name: string;
    /** Host the module is loaded on, `"*"` for a global module. */
    readonly host: string;
    /** `true` for global modules. */
    readonly global?: boolean;
    /** Path of the module's file. */
    readonly path?: string;
    readonly environment: ModuleEnvironment;
    /** `true` while the module is being reloaded. */
    readonly reloading?: boolean;
    /** What `save()` returned before a reload. */
    readonly saved_state?: unknown;
    /** `false` once unloaded (timers of unloaded modules do not fire). */
    readonly loaded?: boolean;
    /**
     * Items added with `add_item`, by kind. A `context()` has none of its own: it
     * reads and writes its module's (its metatable's __index and __newindex).
     */
    items?: LuaTable<string, unknown[]>;

    // Lifecycle functions the module may assign; modulemanager calls them with `.`.
    /** Called after the module's code has run. */
    load?: (this: void) => void;
    /** Called when the module is unloaded (its hooks and items are removed automatically; its timers stop firing). */
    unload?: (this: void) => void;
    /** Called before a reload; the result is passed to `restore` and kept in `saved_state`. */
    save?: (this: void) => unknown;
    /** Called after a reload with what `save` returned (or `{}`). */
    restore?: (this: void, state: unknown) => void;
    /** For global modules: called for each host the module is also loaded on. */
    add_host?: (this: void, host_module: Module) => boolean | void;
    /** Prosody 13 only: called once the server has started. 0.12 never calls it. */
    ready?: (this: void) => void;

    get_name(this: Module): string;
    get_host(this: Module): string;
    get_host_type(this: Module): "local" | "component" | "global";
    get_directory(this: Module): string | undefined;
    set_global(this: Module): void;
    log(this: Module, level: LogLevel, message: string, ...args: unknown[]): void;
    /**
     * The logger `log` calls (util.logger's, for this module on this host; 0.12
     * and 13 alike): the same arguments without the module, one call less.
     */
    readonly _log: (this: void, level: LogLevel, message: string, ...args: unknown[]) => void;
    set_status(
      this: Module,
      status_type: "error" | "warn" | "info" | "core",
      message: string,
      override?: boolean,
    ): void;
    /** Sets the status and logs the same (formatted) message. */
    log_status(
      this: Module,
      level: "error" | "warn" | "info",
      message: string,
      ...args: unknown[]
    ): void;
    get_status(
      this: Module,
    ): LuaMultiReturn<
      [type: string | undefined, message: string | undefined, time: number | undefined]
    >;

    // Options. The number, boolean, integer and period getters return `undefined`
    // when the option is set to something they cannot convert (they log an error),
    // even when a default is given; the string getter does for an empty list.
    /** Raw option value (host section first, then global), or the default. */
    get_option(this: Module, name: string, default_value?: unknown): unknown;
    /** A non-list value; for a list, its first item (logging an error if it had more). */
    get_option_scalar(
      this: Module,
      name: string,
      default_value?: string | number | boolean,
    ): string | number | boolean | undefined;
    get_option_string(this: Module, name: string, default_value?: string): string | undefined;
    /**
     * A number. Prosody 13 clamps it to `[min, max]` (logging a warning); 0.12
     * ignores `min` and `max`.
     */
    get_option_number(
      this: Module,
      name: string,
      default_value?: number,
      min?: number,
      max?: number,
    ): number | undefined;
    get_option_boolean(this: Module, name: string, default_value?: boolean): boolean | undefined;
    /** The option as a new list (a single value becomes a one-item list). */
    get_option_array(this: Module, name: string): unknown[] | undefined;
    get_option_array(this: Module, name: string, default_value: readonly unknown[]): unknown[];
    get_option_set(this: Module, name: string): Set<AnyNotNil> | undefined;
    get_option_set(this: Module, name: string, default_value: readonly AnyNotNil[]): Set<AnyNotNil>;
    /** The host's set united with the global section's set. */
    get_option_inherited_set(this: Module, name: string): Set<AnyNotNil> | undefined;
    get_option_inherited_set(
      this: Module,
      name: string,
      default_value: readonly AnyNotNil[],
    ): Set<AnyNotNil>;
    /** A path resolved against `parent` (a directory, or a `prosody.paths` name; default the module's directory). */
    get_option_path(
      this: Module,
      name: string,
      default_value?: string,
      parent?: string,
    ): string | undefined;
    /** Prosody 13 only: an integer within `[min, max]` (floats are floored, out of range clamped, with a warning). */
    get_option_integer?(
      this: Module,
      name: string,
      default_value?: number,
      min?: number,
      max?: number,
    ): number | undefined;
    /**
     * Prosody 13 only: a duration in seconds from a number or text like `"2 days"`;
     * `"never"`/`false` give `math.huge`. Bounds may be numbers or such text.
     */
    get_option_period?(
      this: Module,
      name: string,
      default_value?: number | string,
      min?: number | string,
      max?: number | string,
    ): number | undefined;
    /**
     * Prosody 13 only: a scalar expected to be one of `default_value` and
     * `alternatives`. A value outside them is logged as an error but still
     * returned, so check it.
     */
    get_option_enum?(
      this: Module,
      name: string,
      default_value: string,
      ...alternatives: string[]
    ): string | number | boolean | undefined;

    /** A module object for another host (`"*"` for the global context). */
    context(this: Module, host: string): Module;
    /**
     * Loads `mod_<name>` (if needed) and returns its environment; raises a Lua
     * error if it cannot be loaded or is disabled. Prosody 13 only: with `soft`,
     * a disabled module gives `undefined` instead of an error (0.12 ignores `soft`).
     */
    depends(this: Module, name: string): ModuleEnvironment;
    /** `soft` is honoured by Prosody 13 only: 0.12 still raises for a disabled module. */
    depends(
      this: Module,
      name: string,
      soft: boolean,
    ): LuaMultiReturn<
      [env: ModuleEnvironment, reason?: undefined] | [env: undefined, reason: "disabled"]
    >;
    /** Loads and runs `<name>.lib.lua` from the module's directory. */
    require(this: Module, name: string): unknown;
    /** A table shared by all modules using the same path (relative paths are per host and module). */
    shared(this: Module, path: string): LuaTable<AnyNotNil, unknown>;

    add_feature(this: Module, xmlns: string): void;
    add_identity(this: Module, category: string, type: string, name?: string): void;
    add_extension(this: Module, data: Stanza): void;
    add_item<K extends string>(
      this: Module,
      key: K,
      item: K extends keyof ItemMap ? ItemMap[K] : unknown,
    ): void;
    remove_item<K extends string>(
      this: Module,
      key: K,
      item: K extends keyof ItemMap ? ItemMap[K] : unknown,
    ): void;
    /** Items of this kind added by all modules on this host. */
    get_host_items(this: Module, key: string): unknown[];
    /**
     * Adds `item` as a `<kind>-provider` item (its default name is the module name
     * without a `<kind>_` prefix). For `"http"`, an app served by mod_http
     * (`module:depends("http")` first).
     */
    provides<K extends string>(
      this: Module,
      kind: K,
      item: K extends "http" ? HttpApp : object,
    ): void;

    /** Handles an event on this module's host (or globally, for a global module). */
    hook<K extends string>(
      this: Module,
      event: K,
      handler: EventHandler<EventPayload<K>>,
      priority?: number,
    ): void;
    unhook<K extends string>(this: Module, event: K, handler: EventHandler<EventPayload<K>>): void;
    /** Handles an event on `prosody.events`. */
    hook_global<K extends string>(
      this: Module,
      event: K,
      handler: EventHandler<EventPayload<K>>,
      priority?: number,
    ): void;
    /** Handles an event of another event source; removed when the module unloads. */
    hook_object_event(
      this: Module,
      source: EventSource,
      event: string,
      handler: EventHandler<unknown>,
      priority?: number,
    ): void;
    unhook_object_event(
      this: Module,
      source: EventSource,
      event: string,
      handler: EventHandler<unknown>,
    ): void;
    /** Fires an event on this module's host; returns the first non-`undefined` handler result. */
    fire_event<K extends string>(this: Module, event: K, data: EventPayload<K>): unknown;

    /** Routes a stanza as if it came from `origin` (default: this host). */
    send(this: Module, stanza: Stanza, origin?: Session): void;
    /**
     * Sends an IQ (which must have an `id`; a Lua error is raised otherwise) and
     * waits up to `timeout` seconds (default 120) for the reply.
     *
     * Fulfils with the reply event; see `IqResultEvent` for the bounce case where
     * that "reply" is an error. Rejects with a util.error object: from the error
     * reply (`context.stanza` is it), `remote-server-timeout` on timeout,
     * `conflict` for an id already in flight, `resource-constraint` when evicted
     * because more than 256 IQs are in flight. A Lua error while sending rejects
     * with its traceback string instead. Same in 0.12 and 13.
     */
    send_iq(
      this: Module,
      stanza: Stanza,
      origin?: Session,
      timeout?: number,
    ): Promise<IqResultEvent, ErrorObject | string>;

    /**
     * Runs `callback(now, ...args)` after `delay` seconds, unless the module has
     * been unloaded; a number returned reschedules it.
     */
    add_timer<A extends unknown[]>(
      this: Module,
      delay: number,
      callback: TimerCallback<A>,
      ...args: A
    ): TimerHandle;
    /** Registers a mod_cron task (loads mod_cron). */
    cron(this: Module, task: CronTask): void;
    /** Runs `run` about once an hour (loads mod_cron; 13 makes the period configurable). */
    hourly(this: Module, name: string, run: CronTask["run"]): void;
    hourly(this: Module, run: CronTask["run"]): void;
    /** Runs `run` about once a day (loads mod_cron). */
    daily(this: Module, name: string, run: CronTask["run"]): void;
    daily(this: Module, run: CronTask["run"]): void;
    /** Runs `run` about once a week (loads mod_cron). */
    weekly(this: Module, name: string, run: CronTask["run"]): void;
    weekly(this: Module, run: CronTask["run"]): void;

    /**
     * Opens a store (default name: the module name). `[undefined, error]` when it
     * cannot be opened; on 13 always for global modules (`"global-storage-not-supported"`).
     */
    open_store<T = unknown>(
      this: Module,
      name?: string,
      type?: "keyval",
    ): LuaMultiReturn<
      [store: KeyValStore<T>, error?: undefined] | [store: undefined, error: string]
    >;
    open_store<T = unknown>(
      this: Module,
      name: string | undefined,
      type: "map",
    ): LuaMultiReturn<[store: MapStore<T>, error?: undefined] | [store: undefined, error: string]>;
    open_store(
      this: Module,
      name: string | undefined,
      type: "archive",
    ): LuaMultiReturn<[store: ArchiveStore, error?: undefined] | [store: undefined, error: string]>;

    /**
     * The external URL of an HTTP app (default: this module's). Defined by mod_http:
     * `module:depends("http")` first. Prosody 13 only: `mode` "internal" ignores
     * `http_external_url`. Gives `"http://disabled.invalid/"` without HTTP ports.
     */
    http_url(
      this: Module,
      app_name?: string,
      default_path?: string,
      mode?: "internal" | "external",
    ): string;

    /** Legacy statistics: returns the function to call per observation. */
    measure(
      this: Module,
      name: string,
      type: "rate",
      options?: MeasureOptions,
    ): (this: void) => void;
    /** Call it at the start; call what it returns at the end. */
    measure(
      this: Module,
      name: string,
      type: "times",
      options?: MeasureOptions,
    ): (this: void) => (this: void) => void;
    measure(
      this: Module,
      name: string,
      type: "amount" | "counter" | "sizes" | "distribution",
      options?: MeasureOptions,
    ): (this: void, value: number) => void;

    /**
     * An OpenMetrics family named `prosody_mod_<module>/<name>`, exposed as
     * `prosody_mod_<module>__<name>` followed by `_<unit>` unless `unit` is empty
     * (counters' samples then end in `_total`). For a host module the family has
     * a `host` label before `labels`, already filled in. Declare families once at
     * load: a second declaration with the same name and labels gives the same
     * family. Pass `labels` (possibly empty): 0.12 raises a Lua error without it
     * on host modules. With statistics off, the result is a stand-in that
     * records nothing (see core.statsmanager).
     * @see https://prosody.im/doc/statistics
     */
    metric(
      this: Module,
      type: "gauge",
      name: string,
      unit: string,
      description: string,
      labels: readonly string[],
    ): MetricFamily<GaugeMetric>;
    metric(
      this: Module,
      type: "counter",
      name: string,
      unit: string,
      description: string,
      labels: readonly string[],
    ): MetricFamily<CounterMetric>;
    metric(
      this: Module,
      type: "histogram",
      name: string,
      unit: string,
      description: string,
      labels: readonly string[],
      extra: { readonly buckets: readonly number[] },
    ): MetricFamily<HistogramMetric>;
    metric(
      this: Module,
      type: "summary",
      name: string,
      unit: string,
      description: string,
      labels: readonly string[],
    ): MetricFamily<SummaryMetric>;

    /** Prosody 13 only: runs `f` once the server has started (deprecated: assign `module.ready`). */
    once?(this: Module, f: (this: void) => void): Promise<unknown>;
    /** Prosody 13 only: runs `f` once the server has started. */
    on_ready?(this: Module, f: (this: void) => void): Promise<unknown>;
    /**
     * Prosody 13 only: whether the actor (a JID, or an event with `origin`/`session`
     * and `stanza`) may perform `action` (`":name"` means `"<module>:name"`).
     */
    may?(this: Module, action: string, context: string | StanzaEvent): boolean;
    /** Prosody 13 only: `may` without logging denials. */
    could?(this: Module, action: string, context: string | StanzaEvent): boolean;
    /** Prosody 13 only: grants `permission` to a role by default. */
    default_permission?(this: Module, role: string, permission: string): void;
    default_permissions?(this: Module, role: string, permissions: readonly string[]): void;
  }

  /** The `prosody` global (a small part of it). */
  interface Global {
    /** Active hosts by name. */
    readonly hosts: { readonly [host: string]: HostSession | undefined };
    /** Global events (`server-started`, `host-activated`, ...). */
    readonly events: EventSource;
    /** Bound client sessions by full JID. */
    readonly full_sessions: { readonly [full_jid: string]: ClientSession | undefined };
    /** Per-account session data by bare JID. */
    readonly bare_sessions: { readonly [bare_jid: string]: unknown };
    /** Version string, e.g. `"0.12.3"` or `"13.0.1"`. Detect features rather than parse it. */
    readonly version: string;
    /** `"prosody"` in the server, `"prosodyctl"` in the command line tool. */
    readonly process_type?: string;
    readonly platform?: string;
    /** Set once the server has started. */
    readonly start_time?: number;
    readonly paths: { readonly [name: string]: string | undefined };
    /** Prosody 13 only: fulfilled when the server has started. */
    readonly started?: Promise<unknown>;
  }
}

/** This module's API object. */
declare const module: Prosody.Module;

/** Prosody's global state. */
declare const prosody: Prosody.Global;
