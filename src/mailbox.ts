// Store and forward (docs/design.md, "Store and forward"): a push for a
// distributor that is offline is kept, at most until its TTL runs out, and
// sent when the endpoint's full JID comes back. Messages live in an archive
// store with one archive per endpoint (named by its token key), oldest first;
// a small record per user counts what each endpoint keeps, for the per-user
// bounds and to find the endpoints with messages when a distributor returns.
// The totals over every user are kept in memory for the metrics' gauges:
// summed from those records at load, then moved with every change to them.
import { ArchiveStore, KeyValStore } from "core.storagemanager";
import { base64 } from "util.encodings";
import { bare } from "util.jid";
import { iq, Stanza, stanza } from "util.stanza";
import { Logger } from "./log";
import { Counts, RemovalReason } from "./metrics";
import { PendingPushes } from "./pending";
import { NS } from "./protocol";
import { Entry } from "./userindex";

/** What one endpoint keeps: messages and their bytes (decoded). */
interface Kept {
  n: number;
  b: number;
}

/** Token key of an endpoint -> what it keeps. */
export type KeptRecord = LuaMap<string, Kept>;

/** The element a message is archived as; its one child is the `<push/>` to send. */
const KEPT = "kept";
const KEPT_NS = "urn:x-mod-unified-push:kept";

/** Messages sent at once when a distributor comes back; the rest follow as it answers. */
const FLUSH_WINDOW = 8;

export type KeepRefusal = "full" | "failed";

export interface MailboxContext {
  /** The messages: one archive per endpoint token key. */
  readonly messages: ArchiveStore;
  /** Per bare JID: what each of the user's endpoints keeps. */
  readonly kept: KeyValStore<KeptRecord>;
  readonly maxMessages: number;
  readonly maxBytes: number;
  /** Our JID, the push IQs' sender. */
  readonly service: string;
  readonly pending: PendingPushes;
  /** The user index entry of an endpoint (its token, target and expiry), or the store's error. */
  readonly entryOf: (
    this: void,
    user: string,
    key: string,
  ) => LuaMultiReturn<[entry: Entry | undefined, err: undefined] | [entry: undefined, err: string]>;
  /** Revokes an endpoint whose distributor answered that the app is gone. */
  readonly revoke: (this: void, user: string, key: string, entry: Entry) => void;
  readonly newId: (this: void) => string;
  /** Seconds since the epoch. */
  readonly now: (this: void) => number;
  readonly log: Logger;
  /** Messages removed from the store, by why. */
  readonly removed: Counts<RemovalReason>;
}

export interface Mailbox {
  /**
   * Keeps a message for the endpoint `key` of `user` for `ttl` seconds, replacing
   * one with the same topic; its archive id, or why not ("full": a per-user bound).
   */
  keep(
    this: void,
    user: string,
    key: string,
    application: string,
    instance: string,
    body: string,
    ttl: number,
    topic: string | undefined,
  ): LuaMultiReturn<
    | [id: string, refusal: undefined, detail: undefined]
    | [id: undefined, refusal: KeepRefusal, detail: string]
  >;
  /** Sends what the endpoints targeting `fullJid` keep, oldest first. */
  flush(this: void, fullJid: string): void;
  /** Removes one kept message before delivery; false when there is none (or it expired). */
  cancel(
    this: void,
    key: string,
    id: string,
  ): LuaMultiReturn<[found: boolean, err: undefined] | [found: undefined, err: string]>;
  /** Removes everything an endpoint keeps (it is gone). */
  drop(this: void, user: string, key: string): void;
  /** Removes expired messages of every user; how many, or undefined where the store cannot list users. */
  sweep(this: void): number | undefined;
  /** What each endpoint of `user` keeps (undefined: nothing), or the store's error. */
  keptBy(
    this: void,
    user: string,
  ): LuaMultiReturn<
    [kept: KeptRecord | undefined, err: undefined] | [kept: undefined, err: string]
  >;
  /**
   * Messages and bytes kept for every user. Summed at load where the store can
   * list users (else counted from zero: what was kept before the start is missed).
   */
  totals(this: void): LuaMultiReturn<[messages: number, bytes: number]>;
}

interface Item {
  readonly id: string;
  readonly message: Stanza;
  readonly bytes: number;
  readonly expires: number;
  readonly topic: string | undefined;
}

function isEmpty(record: KeptRecord): boolean {
  const [first] = next(record);
  return first === undefined;
}

export function mailbox(context: MailboxContext): Mailbox {
  const { messages, kept, removed } = context;
  /** Endpoints being flushed now: a second trigger (presence after bind) waits for the first. */
  const flushing = new LuaTable<string, true>();

  // Every user's counts, summed once; changes to the records move them.
  let totalMessages = 0;
  let totalBytes = 0;
  if (kept.users !== undefined) {
    const users: string[] = [];
    for (const user of kept.users()) users.push(user);
    for (const user of users) {
      const [record] = kept.get(user);
      if (record !== undefined && record !== false) {
        for (const [, counts] of record) {
          totalMessages += counts.n;
          totalBytes += counts.b;
        }
      }
    }
  }

  /** Every message an endpoint keeps, oldest first; or the store's error. */
  function itemsOf(
    key: string,
    topic?: string,
  ): LuaMultiReturn<[items: Item[], err: undefined] | [items: undefined, err: string]> {
    const [found, err] = messages.find(key, topic === undefined ? undefined : { with: topic });
    if (found === undefined || found === false) return $multi(undefined, tostring(err));
    const items: Item[] = [];
    for (const [id, message, , withTopic] of found) {
      items.push({
        id,
        message,
        bytes: tonumber(message.attr.bytes) ?? 0,
        expires: tonumber(message.attr.expires) ?? 0,
        topic: withTopic === "" ? undefined : withTopic,
      });
    }
    return $multi(items, undefined);
  }

  /** Applies a change to what the user's endpoint `key` keeps; false when it could not be stored. */
  function count(user: string, key: string, messageDelta: number, byteDelta: number): boolean {
    const [record, err] = kept.get(user);
    if (err !== undefined) return false;
    const counts: KeptRecord = record ?? new LuaMap();
    const current = counts.get(key) ?? { n: 0, b: 0 };
    const n = current.n + messageDelta;
    const b = n > 0 ? math.max(0, current.b + byteDelta) : 0;
    if (n > 0) counts.set(key, { n, b });
    else counts.delete(key);
    const [ok] = kept.set(user, isEmpty(counts) ? undefined : counts);
    if (ok !== true) return false;
    totalMessages += math.max(0, n) - current.n;
    totalBytes += b - current.b;
    return true;
  }

  /** Forgets everything an endpoint keeps (it is gone). */
  function drop(user: string, key: string): void {
    messages.delete(key);
    const [record, err] = kept.get(user);
    if (err !== undefined || record === undefined) return;
    const current = record.get(key);
    if (current === undefined) return;
    record.delete(key);
    const [ok] = kept.set(user, isEmpty(record) ? undefined : record);
    if (ok !== true) return;
    totalMessages -= current.n;
    totalBytes -= current.b;
    removed.endpoint_gone.add(current.n);
  }

  /** Deletes the given messages of an endpoint; how many messages and bytes went. */
  function remove(
    key: string,
    items: readonly Item[],
  ): LuaMultiReturn<[messages: number, bytes: number]> {
    let gone = 0;
    let bytes = 0;
    for (const item of items) {
      const [ok] = messages.delete(key, { key: item.id });
      if (ok !== undefined && ok !== false) {
        gone++;
        bytes += item.bytes;
      }
    }
    return $multi(gone, bytes);
  }

  /** Deletes an endpoint's expired messages; how many. */
  function removeExpired(user: string, key: string, now: number): number {
    const [items] = itemsOf(key);
    if (items === undefined) return 0;
    const expired: Item[] = [];
    for (const item of items) if (item.expires < now) expired.push(item);
    const [gone, bytes] = remove(key, expired);
    if (gone > 0) {
      count(user, key, -gone, -bytes);
      removed.expired.add(gone);
    }
    return gone;
  }

  /** Sends an endpoint's messages in order, a window at a time, then forgets what was delivered. */
  function flushEndpoint(user: string, key: string, entry: Entry, target: string): void {
    const [items, err] = itemsOf(key);
    if (items === undefined) {
      context.log("warn", "Could not read kept push messages: %s", err);
      return;
    }
    const now = context.now();
    const expired: Item[] = [];
    const due: Item[] = [];
    /** Delivered now. */
    const done: Item[] = [];
    for (const item of items) (item.expires < now ? expired : due).push(item);
    flushing.set(key, true);
    let next = 0;
    let waiting = 0;
    let stopped = false;
    let appGone = false;

    function finish(): void {
      flushing.delete(key);
      const [lapsed, lapsedBytes] = remove(key, expired);
      const [delivered, deliveredBytes] = remove(key, done);
      removed.expired.add(lapsed);
      removed.delivered.add(delivered);
      const gone = lapsed + delivered;
      if (gone > 0 && !count(user, key, -gone, -(lapsedBytes + deliveredBytes))) {
        context.log("warn", "Could not update the count of kept push messages");
      }
      if (appGone) {
        // The rest goes with the endpoint.
        context.revoke(user, key, entry);
        return;
      }
      context.log(
        "debug",
        "Sent %d kept push messages to <%s>, %d left",
        delivered,
        target,
        due.length - next,
      );
    }

    function sendMore(): void {
      while (!stopped && waiting < FLUSH_WINDOW && next < due.length) {
        const item = due[next];
        next++;
        waiting++;
        const push = iq({
          type: "set",
          from: context.service,
          to: target,
          id: context.newId(),
        }).add_child(item.message.tags[0]);
        context.pending.send(push, user, (settled) => {
          waiting--;
          if (settled.answer === "delivered") {
            done.push(item);
          } else {
            // Anything else ends this flush: the rest waits for the next chance.
            stopped = true;
            if (settled.answer === "gone") appGone = true;
          }
          if (waiting === 0 && (stopped || next >= due.length)) finish();
          else sendMore();
        });
      }
    }

    if (due.length === 0) finish();
    else sendMore();
  }

  return {
    keep(user, key, application, instance, body, ttl, topic) {
      const [record, err] = kept.get(user);
      if (err !== undefined) return $multi(undefined, "failed", tostring(err));
      let messagesKept = 0;
      let bytesKept = 0;
      if (record !== undefined) {
        for (const [, counts] of record) {
          messagesKept += counts.n;
          bytesKept += counts.b;
        }
      }

      // RFC 8030 §5.4: a message with the same topic replaces the one kept.
      let replaced: Item[] = [];
      if (topic !== undefined) {
        const [items, findErr] = itemsOf(key, topic);
        if (items === undefined) return $multi(undefined, "failed", findErr);
        replaced = items;
        for (const item of items) {
          messagesKept--;
          bytesKept -= item.bytes;
        }
      }
      if (messagesKept + 1 > context.maxMessages) {
        return $multi(undefined, "full", `${messagesKept} messages kept`);
      }
      if (bytesKept + body.length > context.maxBytes) {
        return $multi(undefined, "full", `${bytesKept} bytes kept`);
      }

      const now = context.now();
      const message = stanza(KEPT, {
        xmlns: KEPT_NS,
        user,
        bytes: tostring(body.length),
        expires: tostring(now + ttl),
      })
        .text_tag("push", base64.encode(body), { xmlns: NS, application, instance })
        .up();
      const [replacedCount, replacedBytes] = remove(key, replaced);
      removed.replaced.add(replacedCount);
      const [id, appendErr] = messages.append(key, undefined, message, now, topic);
      if (id === undefined || id === false) {
        count(user, key, -replacedCount, -replacedBytes);
        return $multi(undefined, "failed", tostring(appendErr));
      }
      if (!count(user, key, 1 - replacedCount, body.length - replacedBytes)) {
        // Kept but not counted: it would escape the bounds, so it must not stay.
        messages.delete(key, { key: id });
        return $multi(undefined, "failed", "could not update the count of kept messages");
      }
      return $multi(id, undefined, undefined);
    },

    flush(fullJid) {
      const user = bare(fullJid) ?? fullJid;
      const [record, err] = kept.get(user);
      if (err !== undefined || record === undefined) return;
      for (const [key] of record) {
        if (flushing.get(key) === undefined) {
          const [entry, entryErr] = context.entryOf(user, key);
          if (entryErr !== undefined) {
            context.log("warn", "Could not look up a push endpoint: %s", entryErr);
          } else if (entry === undefined || entry.e < context.now()) {
            // The endpoint is gone (expired or revoked): so is what it kept.
            drop(user, key);
          } else if (entry.j === fullJid) {
            flushEndpoint(user, key, entry, fullJid);
          }
        }
      }
    },

    cancel(key, id) {
      const [found, err] = messages.find(key, { key: id });
      if (found === undefined || found === false) return $multi(undefined, tostring(err));
      let message: Stanza | undefined;
      for (const [, value] of found) message = value;
      if (message === undefined) return $multi(false, undefined);
      const [ok, deleteErr] = messages.delete(key, { key: id });
      if (ok === undefined || ok === false) return $multi(undefined, tostring(deleteErr));
      const user = message.attr.user;
      if (user !== undefined) count(user, key, -1, -(tonumber(message.attr.bytes) ?? 0));
      const live = (tonumber(message.attr.expires) ?? 0) >= context.now();
      (live ? removed.cancelled : removed.expired).add(1);
      return $multi(live, undefined);
    },

    drop,

    sweep() {
      if (kept.users === undefined) return undefined;
      const users: string[] = [];
      for (const user of kept.users()) users.push(user);
      const now = context.now();
      let swept = 0;
      for (const user of users) {
        const [record, err] = kept.get(user);
        if (err === undefined && record !== undefined) {
          for (const [key] of record) swept += removeExpired(user, key, now);
        }
      }
      return swept;
    },

    keptBy(user) {
      const [record, err] = kept.get(user);
      if (err !== undefined) return $multi(undefined, tostring(err));
      return $multi(record, undefined);
    },

    totals() {
      return $multi(totalMessages, totalBytes);
    },
  };
}
