// The distributors' comings and goings, as the relay and the mailbox need
// them: a full JID that goes offline will not answer its pushes, one that
// comes back (binds a resource, resumes a hibernating stream-management
// session, or sends the push service a directed presence, as Conversations
// does on every bind) gets what was kept for it, and a deleted account takes
// its endpoints along (docs/design.md, "Real mobile links").
// Distributors' sessions live on our host, or for a component on its parent
// domain, which may be activated after us or again later.
import { join, split } from "util.jid";

export interface SessionHandlers {
  /** A full JID that had a session has none now. */
  readonly offline: (this: void, fullJid: string) => void;
  /** A full JID is available (bound, resumed, or announced itself to us). */
  readonly online: (this: void, fullJid: string) => void;
  /** An account was deleted (its bare JID): how many endpoints went, or why none could. */
  readonly deleted: (
    this: void,
    user: string,
  ) => LuaMultiReturn<[removed: number, err: undefined] | [removed: undefined, err: string]>;
}

/** The host whose sessions are our distributors: a component's parent domain, else our own. */
export function sessionHostOf(host: string, isComponent: boolean): string {
  const [parent] = string.match(host, "^[^.]+%.(.+)$");
  return isComponent && parent !== undefined ? parent : host;
}

export function watchSessions(
  module: Prosody.Module,
  sessionHost: string,
  handlers: SessionHandlers,
): void {
  /** The event source of the session host we watch (a reactivated host gets a new one). */
  let watched: unknown;
  function watch(this: void): void {
    const events = prosody.hosts[sessionHost]?.events;
    if (events === undefined || events === watched) return;
    watched = events;
    const sessions = module.context(sessionHost);
    sessions.hook("resource-unbind", (event) => {
      const fullJid = event.session.full_jid;
      if (fullJid !== undefined) handlers.offline(fullJid);
    });
    sessions.hook("resource-bind", (event) => {
      const fullJid = event.session.full_jid;
      // After the bind result has gone out: a client expects that first.
      if (fullJid !== undefined) module.add_timer(0, () => handlers.online(fullJid));
    });
    // Stream management (mod_smacks) resumed a hibernating session, after
    // sending again what was queued for it (our pushes among them).
    sessions.hook("smacks-hibernation-end", (event) => {
      const fullJid = event.resumed.full_jid;
      module.add_timer(0, () => handlers.online(fullJid));
    });
  }
  watch();
  module.hook_global("host-activated", (host) => {
    if (host === sessionHost) watch();
  });
  module.hook_global("user-deleted", (event) => {
    if (event.host !== sessionHost) return;
    const [removed, err] = handlers.deleted(join(event.username, event.host));
    if (removed === undefined)
      module.log("warn", "Could not remove the push endpoints of a deleted account: %s", err);
    else if (removed > 0)
      module.log("info", "Removed %d push endpoints of a deleted account", removed);
  });

  // Directed presence to the push service (available, so without a type);
  // before mod_presence, which ends the event.
  module.hook(
    "presence/host",
    (event) => {
      const from = event.stanza.attr.from;
      if (event.stanza.attr.type !== undefined || from === undefined) return undefined;
      if (split(from)[2] !== undefined) handlers.online(from);
      return undefined;
    },
    1,
  );
}

/**
 * True for a full JID of one of our own hosts that cannot take a push now: it
 * has no session, or its session hibernates (stream management: the connection
 * dropped and a push would only wait in its queue).
 */
export function isAway(this: void, fullJid: string): boolean {
  // Every push asks this: the answer for a session that exists needs no JID parsing.
  const session = prosody.full_sessions[fullJid];
  if (session !== undefined) return session.hibernating !== undefined;
  const [, host] = split(fullJid);
  const ours = host === undefined ? undefined : prosody.hosts[host];
  return ours !== undefined && ours.type === "local";
}
