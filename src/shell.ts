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

const ITEM = "shell-command";
const SECTION = "unified_push";
const SECTION_DESC = "Push registrations and counts of mod_unified_push";

/** One instance of the module (one host), in the table all instances share. */
interface Instance {
  /** The host of the users it serves: its own, or a component's parent domain. */
  readonly usersHost: string;
  readonly context: ShellContext;
  /** Offers its commands (again): called when another instance leaves. */
  readonly offer: (this: void) => void;
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
 * Adds the commands as Prosody 13's admin shell takes them, one `shell-command`
 * item each: `list` and `revoke` on the users' host (a component's parent domain,
 * since the shell picks the host by the JID typed), `stats` for the whole server.
 * 0.12's shell takes none: the items go unused and the debug log says so.
 * Returns what to do on unload.
 */
export function offerShellCommands(
  module: Prosody.Module,
  usersHost: string,
  context: ShellContext,
): (this: void) => void {
  const instances = module.shared(`/*/${module.name}/instances`) as unknown as LuaTable<
    string,
    Instance
  >;
  /**
   * Which instance offers `list` and `revoke` to each users' host: the shell keeps
   * one handler per host and warns "already registered" at a second.
   */
  const offerers = module.shared(`/*/${module.name}/shell_offerers`) as unknown as LuaTable<
    string,
    string
  >;
  /** Every instance serving our users, by host name: what `list` and `revoke` run on. */
  function servingUsers(this: void): (readonly [string, ShellContext])[] {
    const services: (readonly [string, ShellContext])[] = [];
    for (const [host, instance] of instances) {
      if (instance.usersHost === usersHost) services.push([host, instance.context]);
    }
    table.sort(services, (a, b) => a[0] < b[0]);
    return services;
  }

  const users = module.context(usersHost);
  // A context keeps its items in the module's own table, where the shell looks
  // when it comes to this host after us, and where stats() (no host_selector)
  // would get "Ignoring command ... missing/invalid host_selector". So the
  // server-wide command gets a table of its own.
  const server = module.context("*");
  rawset(server, "items", new LuaTable());

  const list: Prosody.ShellCommand = {
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
  };
  const revoke: Prosody.ShellCommand = {
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
  };
  const stats: Prosody.ShellCommand = {
    section: SECTION,
    section_desc: SECTION_DESC,
    name: "stats",
    desc: "Show the push counts of every host",
    args: [],
    handler() {
      const hosts: (readonly [string, (this: void) => Reading[] | undefined])[] = [];
      for (const [host, instance] of instances) hosts.push([host, instance.context.read]);
      table.sort(hosts, (a, b) => a[0] < b[0]);
      return statsCommand(hosts, this.session.print);
    },
  };

  function offer(this: void): void {
    // A context of a host that is not there fires on the whole server.
    if (offerers.get(usersHost) === undefined && prosody.hosts[usersHost] !== undefined) {
      offerers.set(usersHost, module.host);
      users.add_item(ITEM, list);
      users.add_item(ITEM, revoke);
    }
    // Added again, so that the shell runs a live instance's copy.
    server.remove_item(ITEM, stats);
    server.add_item(ITEM, stats);
  }
  instances.set(module.host, { usersHost, context, offer });

  // Once every host has loaded its modules, the shell among them, whatever the order.
  function whenStarted(this: void): void {
    offer();
    if (prosody.events.get_handlers(`item-added/${ITEM}`) === undefined) {
      module.log(
        "debug",
        "No admin shell here takes commands from modules (shell-command items): unified_push:list(), revoke() and stats() are not available",
      );
    }
  }
  if (prosody.start_time === undefined) module.hook_global("server-started", whenStarted);
  else whenStarted();

  return () => {
    instances.delete(module.host);
    if (offerers.get(usersHost) === module.host) {
      offerers.delete(usersHost);
      users.remove_item(ITEM, list);
      users.remove_item(ITEM, revoke);
    }
    // The others offer theirs before ours goes: removing the stats() the shell
    // runs takes the command away.
    for (const [, other] of instances) other.offer();
    server.remove_item(ITEM, stats);
  };
}
