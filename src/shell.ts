// The admin shell's unified_push commands (README "Admin shell"), for
// `prosodyctl shell` on Prosody 13, whose admin shell takes commands from modules
// as `shell-command` items: list a user's registrations, revoke them, and print
// the module's counts. Prosody 0.12's admin shell takes none; there the module
// goes without them and says so in its debug log. Never prints a whole token or
// endpoint URL.
import { datetime } from "util.datetime";
import { bare, prep, split } from "util.jid";
import { KeptRecord } from "./mailbox";
import { Reading } from "./metrics";
import { Endpoints } from "./endpoints";

export interface ShellContext {
  readonly endpoints: Endpoints;
  /** What each endpoint of a user keeps (mailbox.keptBy). */
  readonly keptBy: (
    this: void,
    user: string,
  ) => LuaMultiReturn<
    [kept: KeptRecord | undefined, err: undefined] | [kept: undefined, err: string]
  >;
  /** The metrics' values now, undefined when Prosody keeps no statistics. */
  readonly read: (this: void) => Reading[] | undefined;
  /** Seconds since the epoch. */
  readonly now: (this: void) => number;
}

/** Prints one line of a command's output. */
export type Print = (this: void, line: string) => void;

/** What a command answers: the shell shows "OK: message" or "Error: message". */
export type CommandResult = LuaMultiReturn<[ok: boolean, message: string]>;

/** Characters of an application hash shown: enough to tell a user's apps apart. */
export const APPLICATION_PREFIX = 8;

/** The bare JID of a user's account, from what an admin typed; or why it is not one. */
function accountOf(
  jid: unknown,
): LuaMultiReturn<[user: string, problem: undefined] | [user: undefined, problem: string]> {
  if (type(jid) !== "string") return $multi(undefined, "give the user's JID as a string");
  const prepped = prep(jid as string);
  const user = prepped === undefined ? undefined : bare(prepped);
  if (user === undefined || split(user)[0] === undefined) {
    return $multi(undefined, `not a user's JID: ${jid as string}`);
  }
  return $multi(user, undefined);
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

interface Row {
  readonly app: string;
  readonly jid: string;
  readonly expires: string;
  readonly kept: number;
}

/** `unified_push:list(jid)`: one line per registration of the user. */
export function listCommand(context: ShellContext, print: Print, jid: unknown): CommandResult {
  const [user, problem] = accountOf(jid);
  if (user === undefined) return $multi(false, problem);
  const [entries, err] = context.endpoints.entries(user);
  if (err !== undefined) return $multi(false, `could not read the registrations: ${err}`);
  const [kept] = context.keptBy(user);
  const now = context.now();
  const rows: Row[] = [];
  let width = "JID".length;
  for (const [key, entry] of entries ?? new LuaMap()) {
    // Entries from before stable endpoints name no JID: their token holds it.
    const target = entry.j ?? "(in the token)";
    width = math.max(width, target.length);
    rows.push({
      app: string.sub(entry.a, 1, APPLICATION_PREFIX),
      jid: target,
      expires: datetime(entry.e) + (entry.e < now ? " (expired)" : ""),
      kept: kept?.get(key)?.n ?? 0,
    });
  }
  table.sort(rows, (a, b) => (a.app === b.app ? a.jid < b.jid : a.app < b.app));
  if (rows.length > 0) {
    const format = `%-${APPLICATION_PREFIX}s  %-${width}s  %-30s  %s`;
    print(string.format(format, "App", "JID", "Expires", "Stored messages"));
    for (const row of rows) print(string.format(format, row.app, row.jid, row.expires, row.kept));
  }
  return $multi(
    true,
    `${plural(rows.length, "push registration", "push registrations")} of ${user}`,
  );
}

/**
 * `unified_push:revoke(jid [, application])`: revokes the user's registrations
 * (those whose application hash starts with `application`, as `list` shows it).
 */
export function revokeCommand(
  context: ShellContext,
  jid: unknown,
  application: unknown,
): CommandResult {
  const [user, problem] = accountOf(jid);
  if (user === undefined) return $multi(false, problem);
  if (application !== undefined && (type(application) !== "string" || application === "")) {
    return $multi(false, "give the application as the start of its hash, as list() shows it");
  }
  const prefix = application as string | undefined;
  const [revoked, err] = context.endpoints.revokeApps(user, prefix, context.now());
  if (revoked === undefined) return $multi(false, `could not revoke: ${err}`);
  const which = prefix === undefined ? "" : ` for applications starting with ${prefix}`;
  return $multi(
    true,
    `Revoked ${plural(revoked, "push registration", "push registrations")} of ${user}${which}`,
  );
}

function formatValue(value: number): string {
  return string.format("%.6g", value);
}

/** `unified_push:stats()`: the counts of every host the module is loaded on. */
export function statsCommand(
  hosts: readonly (readonly [host: string, read: (this: void) => Reading[] | undefined])[],
  print: Print,
): CommandResult {
  for (const [host, read] of hosts) {
    const readings = read();
    if (readings === undefined) {
      return $multi(
        false,
        'Prosody keeps no statistics: set statistics = "internal" in the global section and restart',
      );
    }
    print(host);
    for (const { name, values } of readings) {
      const parts: string[] = [];
      for (const [label, value] of values) parts.push(`${label} ${formatValue(value)}`);
      print(`  ${name}: ${table.concat(parts, ", ")}`);
    }
  }
  return $multi(true, `${plural(hosts.length, "host", "hosts")}`);
}

const SECTION = "unified_push";
const SECTION_DESC = "Push registrations and counts of mod_unified_push";
const ITEM = "shell-command";
/** What Prosody 13's admin shell hooks to take commands from modules. */
const ITEM_ADDED = `item-added/${ITEM}`;

/** One instance of the module (one host), as the `stats()` they share sees it. */
interface Instance {
  readonly read: (this: void) => Reading[] | undefined;
  /** Offers its `stats()` again, so the shell runs its copy. */
  readonly reoffer: (this: void) => void;
  /** The users' host whose `list` and `revoke` cover it, and what they need of it. */
  readonly sessionHost: string;
  readonly context: ShellContext;
  /** Offers `list` and `revoke` to its users' host in place of an instance leaving. */
  readonly takeOver: (this: void) => void;
}

/**
 * Runs a command on every instance serving the users' host (a VirtualHost and a
 * component for its users may both run the module), saying which answered what
 * when there are several.
 */
function onEach(
  services: readonly (readonly [host: string, context: ShellContext])[],
  print: Print,
  run: (this: void, context: ShellContext, print: Print) => CommandResult,
): CommandResult {
  const only = services[0];
  if (services.length === 1 && only !== undefined) return run(only[1], print);
  let ok = true;
  const messages: string[] = [];
  for (const [host, context] of services) {
    print(`${host}:`);
    const [done, message] = run(context, (line) => print(`  ${line}`));
    ok &&= done;
    messages.push(`${host}: ${message}`);
  }
  return $multi(ok, messages.join("; "));
}

/**
 * Offers the commands to the admin shell wherever it takes them: `list` and
 * `revoke` on `sessionHost` (the users' host: a component's parent domain, so
 * the shell finds them by the JID typed), `stats` once for the whole server.
 * Whether the shell takes commands is seen by whether it listens for them, once
 * it can be loaded: at server start, when it loads, and when the users' host
 * comes (again). Returns what to do on unload.
 */
export function offerShellCommands(
  module: Prosody.Module,
  sessionHost: string,
  context: ShellContext,
): (this: void) => void {
  const hostCommands: Prosody.ShellCommand[] = [
    {
      section: SECTION,
      section_desc: SECTION_DESC,
      name: "list",
      desc: "List a user's push registrations: application, JID, expiry, stored messages",
      args: [{ name: "jid", type: "string" }],
      host_selector: "jid",
      handler(jid) {
        return onEach(servingUsers(), this.session.print, (each, print) =>
          listCommand(each, print, jid),
        );
      },
    },
    {
      section: SECTION,
      section_desc: SECTION_DESC,
      name: "revoke",
      desc: "Revoke a user's push registrations (or one application's): their endpoints answer 404",
      args: [
        { name: "jid", type: "string" },
        { name: "application", type: "string" },
      ],
      host_selector: "jid",
      handler(jid, application) {
        return onEach(servingUsers(), this.session.print, (each) =>
          revokeCommand(each, jid, application),
        );
      },
    },
  ];

  // Every instance's metrics, for the one stats() of the server.
  const instances = module.shared(`/*/${module.name}/instances`) as unknown as LuaTable<
    string,
    Instance
  >;
  /**
   * Which instance offers `list` and `revoke` to each users' host: the admin shell
   * keeps one handler per host and warns when a second instance adds its own.
   */
  const offerers = module.shared(`/*/${module.name}/shell_offerers`) as unknown as LuaTable<
    string,
    string
  >;
  /** The instances whose users live on our users' host, by host name. */
  function servingUsers(this: void): (readonly [string, ShellContext])[] {
    const services: (readonly [string, ShellContext])[] = [];
    for (const [host, instance] of instances) {
      if (instance.sessionHost === sessionHost) services.push([host, instance.context]);
    }
    table.sort(services, (a, b) => a[0] < b[0]);
    return services;
  }

  const stats: Prosody.ShellCommand = {
    section: SECTION,
    section_desc: SECTION_DESC,
    name: "stats",
    desc: "Show the push counts of every host",
    args: [],
    handler() {
      const hosts: (readonly [string, (this: void) => Reading[] | undefined])[] = [];
      for (const [host, instance] of instances) hosts.push([host, instance.read]);
      table.sort(hosts, (a, b) => a[0] < b[0]);
      return statsCommand(hosts, this.session.print);
    },
  };

  const users = module.context(sessionHost);
  // A context keeps its items in the module's own table, where the admin shell
  // looks when it is loaded onto this host after us, and where stats(), which
  // has no host_selector, gets "Ignoring command ... missing/invalid
  // host_selector". The server-wide command gets a table of its own.
  const server = module.context("*");
  rawset(server, "items", new LuaTable());
  /** The events of the users' host the commands were offered to (a reactivated host has new ones). */
  let offeredTo: Prosody.EventSource | undefined;
  let offeredStats = false;
  let said = false;

  function offer(this: void): void {
    const events = prosody.hosts[sessionHost]?.events;
    const offerer = offerers.get(sessionHost);
    if (
      events !== undefined &&
      events !== offeredTo &&
      (offerer === undefined || offerer === module.host) &&
      events.get_handlers(ITEM_ADDED)
    ) {
      if (offeredTo !== undefined)
        for (const command of hostCommands) users.remove_item(ITEM, command);
      for (const command of hostCommands) users.add_item(ITEM, command);
      offeredTo = events;
      offerers.set(sessionHost, module.host);
    }
    if (!offeredStats && prosody.events.get_handlers(ITEM_ADDED)) {
      server.add_item(ITEM, stats);
      offeredStats = true;
    }
  }

  function sayIfNone(this: void): void {
    if (said || offeredTo !== undefined || offeredStats) return;
    said = true;
    module.log(
      "debug",
      "No admin shell here takes commands from modules (shell-command items): unified_push:list(), revoke() and stats() are not available",
    );
  }

  instances.set(module.host, {
    read: context.read,
    reoffer() {
      if (!offeredStats) return;
      server.remove_item(ITEM, stats);
      server.add_item(ITEM, stats);
    },
    sessionHost,
    context,
    takeOver() {
      offeredTo = undefined;
      offer();
    },
  });

  /** The users' host's events watched for the admin shell's arrival. */
  let watched: Prosody.EventSource | undefined;
  function watch(this: void): void {
    const events = prosody.hosts[sessionHost]?.events;
    if (events === undefined || events === watched) return;
    watched = events;
    users.hook("module-loaded", (event) => {
      if (event.module === "admin_shell") offer();
    });
    offer();
  }
  watch();
  module.hook_global("host-activated", (host) => {
    if (host === sessionHost) watch();
  });
  // The admin shell's first load (global) and the server's start, when every
  // host has loaded its modules.
  module.hook_global("module-loaded", (event) => {
    if (event.module === "admin_shell") offer();
  });
  module.hook_global("server-started", () => {
    offer();
    sayIfNone();
  });
  if (prosody.start_time !== undefined) sayIfNone();

  /** Another instance for the same users takes list() and revoke() over. */
  function handOver(this: void): void {
    offerers.delete(sessionHost);
    for (const [, instance] of instances) {
      if (instance.sessionHost === sessionHost) {
        instance.takeOver();
        return;
      }
    }
  }

  return () => {
    instances.delete(module.host);
    // The shell may run this instance's stats(): let another instance offer its
    // own before ours goes (which takes the command away if it is the one the
    // shell runs). Prosody removes only the module's own items.
    const [, other] = next(instances);
    other?.reoffer();
    if (offeredStats) server.remove_item(ITEM, stats);
    if (offerers.get(sessionHost) === module.host) handOver();
  };
}
