// Store and forward (docs/design.md, "Store and forward"): a push for a
// distributor that is away is kept, at most until its TTL runs out, and sent
// when the endpoint's full JID comes back. Messages live in an archive store
// with one archive per endpoint (named by its token key), oldest first; a small
// record per user counts what each endpoint keeps, for the bounds and to find
// the endpoints with messages when a distributor returns. The store is the
// truth: whenever a flush or the sweep reads an endpoint's messages, the count
// is set from what it found.
//
// The steps, each a function below: keep (a new message, or a copy of a push
// still waiting for its answer, "held"), flush (send what an endpoint keeps, a
// window at a time, then delete what was delivered in one go), cancel (DELETE
// on a message's Location), settle a held copy, drop (the endpoint is gone)
// and sweep (expired messages).
import { ArchiveStore, KeyValStore } from "core.storagemanager";
import { bare } from "util.jid";
import { Stanza, stanza } from "util.stanza";
import { Logger } from "./log";
import { Counts, RemovalReason } from "./metrics";
import { PendingPushes } from "./pending";
import { pushElement, pushIqWith } from "./protocol";
import { SliceBudget, Walk, walkUsers } from "./slices";
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
  /** Bounds per user (all endpoints) and per endpoint. */
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxPerEndpoint: number;
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
   * one with the same topic; its archive id, or why not ("full": a bound). A
   * `held` message is the copy of a push still waiting for its answer: no flush
   * sends it until settleHeld releases it.
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
    held?: boolean,
  ): LuaMultiReturn<
    | [id: string, refusal: undefined, detail: undefined]
    | [id: undefined, refusal: KeepRefusal, detail: string]
  >;
  /**
   * The push a held copy (of `bytes`) stands for was answered: delivered (the
   * copy goes) or not (it stays, for the next flush).
   */
  settleHeld(
    this: void,
    user: string,
    key: string,
    id: string,
    bytes: number,
    delivered: boolean,
  ): void;
  /**
   * True when the user's endpoint keeps messages (as far as known since load,
   * the user's record read if the count at load has not reached it) or is being
   * flushed.
   */
  hasKept(this: void, user: string, key: string): boolean;
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
  /**
   * A walk over every user removing expired messages, a slice at a time (its
   * total: how many went); undefined where the store cannot list users.
   */
  sweep(
    this: void,
    budget: SliceBudget,
    finished: (this: void, err?: string) => void,
  ): Walk | undefined;
  /** What each endpoint of `user` keeps (undefined: nothing), or the store's error. */
  keptBy(
    this: void,
    user: string,
  ): LuaMultiReturn<
    [kept: KeptRecord | undefined, err: undefined] | [kept: undefined, err: string]
  >;
  /**
   * Messages and bytes kept for every user. Summed by `count` where the store
   * can list users (else counted from zero: what was kept before the start is
   * missed), and moved by every change since.
   */
  totals(this: void): LuaMultiReturn<[messages: number, bytes: number]>;
  /**
   * The walk that sums what every user keeps into the totals, once after load,
   * a slice at a time; undefined where the store cannot list users.
   */
  count(this: void, budget: SliceBudget): Walk | undefined;
}

interface Item {
  readonly id: string;
  readonly message: Stanza;
  readonly bytes: number;
  readonly expires: number;
  readonly topic: string | undefined;
}

/** What the steps share: the context and what is known in memory. */
interface State {
  readonly context: MailboxContext;
  /** Endpoint key -> the full JID it is being flushed to now. */
  readonly flushing: LuaTable<string, string>;
  /** Endpoint key -> messages appended so far (a flush tells what came after its read). */
  readonly appended: LuaTable<string, number>;
  /** Endpoint keys known to keep messages (since load). */
  readonly known: LuaTable<string, true>;
  /** `key .. id` of held copies. */
  readonly held: LuaTable<string, true>;
  /**
   * Endpoint key -> removals by anyone so far: a flush that saw none since it
   * read the archive knows its delivered messages are still the oldest ones.
   */
  readonly removals: LuaTable<string, number>;
  /**
   * While the count at load runs: users whose records are in the totals (and
   * their endpoints in `known`). A record changed or asked about before the count
   * reached it is counted then.
   */
  counted: LuaTable<string, true> | undefined;
  totalMessages: number;
  totalBytes: number;
}

function isEmpty(record: KeptRecord): boolean {
  const [first] = next(record);
  return first === undefined;
}

/**
 * True when an archive delete removed something. The drivers answer a number
 * (0 when nothing matched, and 0 is true in Lua) or true.
 */
function removedAny(result: unknown): boolean {
  return result === true || (type(result) === "number" && (result as number) > 0);
}

/** Adds a user's record to the totals, once, while the count at load has not reached it. */
function countUser(state: State, user: string, record: KeptRecord | undefined): void {
  const { counted } = state;
  if (counted === undefined || counted.get(user) !== undefined) return;
  counted.set(user, true);
  if (record === undefined) return;
  for (const [key, counts] of record) {
    state.totalMessages += counts.n;
    state.totalBytes += counts.b;
    state.known.set(key, true);
  }
}

function noteRemoval(state: State, key: string): void {
  state.removals.set(key, (state.removals.get(key) ?? 0) + 1);
}

/** Every message an endpoint keeps, oldest first (of one topic, if given); or the store's error. */
function itemsOf(
  state: State,
  key: string,
  topic?: string,
): LuaMultiReturn<[items: Item[], err: undefined] | [items: undefined, err: string]> {
  const [found, err] = state.context.messages.find(
    key,
    topic === undefined ? undefined : { with: topic },
  );
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

/**
 * Sets what the user's endpoint `key` keeps: `n` messages of `b` bytes when
 * `exact` (what the store holds), else that much more (or less); false when the
 * record could not be stored.
 */
function setCount(
  state: State,
  user: string,
  key: string,
  change: { readonly n: number; readonly b: number; readonly exact: boolean },
): boolean {
  const { kept } = state.context;
  const [record, err] = kept.get(user);
  if (err !== undefined) return false;
  countUser(state, user, record);
  const counts: KeptRecord = record ?? new LuaMap();
  const current = counts.get(key) ?? { n: 0, b: 0 };
  let n = change.exact ? change.n : current.n + change.n;
  let b = change.exact ? change.b : current.b + change.b;
  if (n <= 0) {
    n = 0;
    b = 0;
  }
  if (n > 0) state.known.set(key, true);
  else state.known.delete(key);
  if (n === current.n && b === current.b) return true;
  if (n > 0) counts.set(key, { n, b: math.max(0, b) });
  else counts.delete(key);
  const [ok] = kept.set(user, isEmpty(counts) ? undefined : counts);
  if (ok !== true) return false;
  state.totalMessages += n - current.n;
  state.totalBytes += math.max(0, b) - current.b;
  return true;
}

/** Trusts the store over the count (a flush or the sweep has just read it). */
function heal(state: State, user: string, key: string, items: readonly Item[]): void {
  let bytes = 0;
  for (const item of items) bytes += item.bytes;
  const [record] = state.context.kept.get(user);
  const current = record === undefined || record === false ? undefined : record.get(key);
  if (current !== undefined && current.n === items.length && current.b === bytes) return;
  if (current !== undefined || items.length > 0) {
    state.context.log(
      "debug",
      "Kept push messages of an endpoint counted %d, stored %d: corrected",
      current?.n ?? 0,
      items.length,
    );
  }
  setCount(state, user, key, { n: items.length, b: bytes, exact: true });
}

/** Deletes the given messages one by one; how many went and their bytes. */
function removeEach(
  state: State,
  key: string,
  items: readonly Item[],
): LuaMultiReturn<[messages: number, bytes: number]> {
  let gone = 0;
  let bytes = 0;
  for (const item of items) {
    const [result] = state.context.messages.delete(key, { key: item.id });
    if (removedAny(result)) {
      gone++;
      bytes += item.bytes;
      state.held.delete(key + item.id);
    }
  }
  if (gone > 0) noteRemoval(state, key);
  return $multi(gone, bytes);
}

// ---- keep

function keep(
  state: State,
  user: string,
  key: string,
  application: string,
  instance: string,
  body: string,
  ttl: number,
  topic: string | undefined,
  held: boolean | undefined,
): LuaMultiReturn<
  | [id: string, refusal: undefined, detail: undefined]
  | [id: undefined, refusal: KeepRefusal, detail: string]
> {
  const { context } = state;
  const [record, err] = context.kept.get(user);
  if (err !== undefined) return $multi(undefined, "failed", tostring(err));
  let messagesKept = 0;
  let bytesKept = 0;
  let endpointKept = 0;
  if (record !== undefined) {
    for (const [endpoint, counts] of record) {
      messagesKept += counts.n;
      bytesKept += counts.b;
      if (endpoint === key) endpointKept = counts.n;
    }
  }

  // RFC 8030 §5.4: a message with the same topic replaces the one kept.
  let replaced: Item[] = [];
  if (topic !== undefined) {
    const [items, findErr] = itemsOf(state, key, topic);
    if (items === undefined) return $multi(undefined, "failed", findErr);
    replaced = items;
    for (const item of items) {
      messagesKept--;
      endpointKept--;
      bytesKept -= item.bytes;
    }
  }
  if (endpointKept + 1 > context.maxPerEndpoint) {
    return $multi(undefined, "full", `${endpointKept} messages kept for the endpoint`);
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
  }).add_child(pushElement(application, instance, body));
  const [replacedCount, replacedBytes] = removeEach(state, key, replaced);
  context.removed.replaced.add(replacedCount);
  const [id, appendErr] = context.messages.append(key, undefined, message, now, topic);
  if (id === undefined || id === false) {
    setCount(state, user, key, { n: -replacedCount, b: -replacedBytes, exact: false });
    return $multi(undefined, "failed", tostring(appendErr));
  }
  if (
    !setCount(state, user, key, {
      n: 1 - replacedCount,
      b: body.length - replacedBytes,
      exact: false,
    })
  ) {
    // Kept but not counted: it would escape the bounds, so it must not stay.
    context.messages.delete(key, { key: id });
    noteRemoval(state, key);
    return $multi(undefined, "failed", "could not update the count of kept messages");
  }
  if (held === true) state.held.set(key + id, true);
  state.known.set(key, true);
  state.appended.set(key, (state.appended.get(key) ?? 0) + 1);
  return $multi(id, undefined, undefined);
}

function settleHeld(
  state: State,
  user: string,
  key: string,
  id: string,
  bytes: number,
  delivered: boolean,
): void {
  if (state.held.get(key + id) === undefined) return; // cancelled, expired or dropped meanwhile
  state.held.delete(key + id);
  if (!delivered) return;
  const [result] = state.context.messages.delete(key, { key: id });
  if (!removedAny(result)) return;
  noteRemoval(state, key);
  state.context.removed.delivered.add(1);
  setCount(state, user, key, { n: -1, b: -bytes, exact: false });
}

// ---- flush

/** One endpoint's flush: what it read, sent and learnt. */
interface Flush {
  readonly user: string;
  readonly key: string;
  readonly entry: Entry;
  readonly target: string;
  /** Everything the archive held when read, oldest first. */
  readonly items: readonly Item[];
  /** Indexes into items: what to send (live, not held). */
  readonly due: readonly number[];
  /** Per index into items: expired (true) or delivered (false), so to be deleted. */
  readonly done: LuaTable<number, boolean>;
  /** State.removals and State.appended of the endpoint when it read the archive. */
  readonly removalsBefore: number;
  readonly appendedBefore: number;
  next: number;
  waiting: number;
  stopped: boolean;
  appGone: boolean;
}

/**
 * Deletes what a flush delivered or found expired, and counts it. Where nothing
 * else removed a message of the endpoint since the flush read it, the done
 * messages that lead the archive go in one delete (keeping the newest: the
 * rest it read and what was appended since); the others one by one.
 */
function removeDone(state: State, flush: Flush): void {
  const { items, done, key } = flush;
  const { removed } = state.context;
  let prefix = 0;
  while (prefix < items.length && done.get(prefix) !== undefined) prefix++;
  let from = 0;
  if (prefix > 0 && (state.removals.get(key) ?? 0) === flush.removalsBefore) {
    const appended = (state.appended.get(key) ?? 0) - flush.appendedBefore;
    const [result] = state.context.messages.delete(key, {
      truncate: items.length - prefix + appended,
    });
    if (result === prefix) {
      noteRemoval(state, key);
      for (let i = 0; i < prefix; i++) {
        state.held.delete(key + items[i].id);
        (done.get(i) === true ? removed.expired : removed.delivered).add(1);
      }
      from = prefix;
    } else if (removedAny(result)) {
      // Not what this flush expected: the ones it meant are looked for one by one.
      noteRemoval(state, key);
    }
  }
  for (let i = from; i < items.length; i++) {
    const expired = done.get(i);
    if (expired !== undefined) {
      const [gone] = removeEach(state, key, [items[i]]);
      (expired ? removed.expired : removed.delivered).add(gone);
    }
  }
}

function finishFlush(state: State, flush: Flush): void {
  const { context } = state;
  const { user, key, target } = flush;
  if (state.flushing.get(key) === target) state.flushing.delete(key);
  removeDone(state, flush);
  if (flush.appGone) {
    // The rest goes with the endpoint.
    context.revoke(user, key, flush.entry);
    return;
  }
  // The store is the truth: read it again and heal the count; go on with what
  // arrived meanwhile if this flush ran to its end.
  const [left] = itemsOf(state, key);
  if (left !== undefined) heal(state, user, key, left);
  context.log(
    "debug",
    "Sent kept push messages to <%s>, %d left",
    target,
    left === undefined ? -1 : left.length,
  );
  const arrived = (state.appended.get(key) ?? 0) > flush.appendedBefore;
  if (arrived && !flush.stopped && left !== undefined && left.length > 0) {
    flushEndpoint(state, user, key, flush.entry, target);
  }
}

function sendMore(state: State, flush: Flush): void {
  const { context } = state;
  while (!flush.stopped && flush.waiting < FLUSH_WINDOW && flush.next < flush.due.length) {
    const index = flush.due[flush.next];
    flush.next++;
    flush.waiting++;
    const push = pushIqWith(
      context.service,
      flush.target,
      context.newId(),
      flush.items[index].message.tags[0],
    );
    context.pending.send(push, flush.user, (settled) => {
      flush.waiting--;
      if (settled.answer === "delivered") {
        flush.done.set(index, false);
      } else {
        // Anything else ends this flush: the rest waits for the next chance.
        flush.stopped = true;
        if (settled.answer === "gone") flush.appGone = true;
      }
      if (flush.waiting === 0 && (flush.stopped || flush.next >= flush.due.length)) {
        finishFlush(state, flush);
      } else {
        sendMore(state, flush);
      }
    });
  }
}

/** Sends an endpoint's messages in order, a window at a time, then forgets what was delivered. */
function flushEndpoint(
  state: State,
  user: string,
  key: string,
  entry: Entry,
  target: string,
): void {
  const { context } = state;
  const removalsBefore = state.removals.get(key) ?? 0;
  const appendedBefore = state.appended.get(key) ?? 0;
  const [items, err] = itemsOf(state, key);
  if (items === undefined) {
    context.log("warn", "Could not read kept push messages: %s", err);
    return;
  }
  heal(state, user, key, items);
  const now = context.now();
  const due: number[] = [];
  const done = new LuaTable<number, boolean>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item.expires < now) done.set(i, true);
    else if (state.held.get(key + item.id) === undefined) due.push(i);
  }
  state.flushing.set(key, target);
  const flush: Flush = {
    user,
    key,
    entry,
    target,
    items,
    due,
    done,
    removalsBefore,
    appendedBefore,
    next: 0,
    waiting: 0,
    stopped: false,
    appGone: false,
  };
  if (due.length === 0) finishFlush(state, flush);
  else sendMore(state, flush);
}

function flushFor(state: State, fullJid: string): void {
  const { context } = state;
  const user = bare(fullJid) ?? fullJid;
  const [record, err] = context.kept.get(user);
  if (err !== undefined || record === undefined) return;
  for (const [key] of record) {
    // A flush to another full JID (a dead resource) does not block this one.
    if (state.flushing.get(key) !== fullJid) {
      const [entry, entryErr] = context.entryOf(user, key);
      if (entryErr !== undefined) {
        context.log("warn", "Could not look up a push endpoint: %s", entryErr);
      } else if (entry === undefined || entry.e < context.now()) {
        // The endpoint is gone (expired or revoked): so is what it kept.
        drop(state, user, key);
      } else if (entry.j === fullJid) {
        flushEndpoint(state, user, key, entry, fullJid);
      }
    }
  }
}

// ---- cancel, drop, sweep

function cancel(
  state: State,
  key: string,
  id: string,
): LuaMultiReturn<[found: boolean, err: undefined] | [found: undefined, err: string]> {
  const { context } = state;
  const [found, err] = context.messages.find(key, { key: id });
  if (found === undefined || found === false) return $multi(undefined, tostring(err));
  let message: Stanza | undefined;
  for (const [, value] of found) message = value;
  if (message === undefined) return $multi(false, undefined);
  const [result, deleteErr] = context.messages.delete(key, { key: id });
  if (result === undefined || result === false) return $multi(undefined, tostring(deleteErr));
  // Someone else (a flush, the sweep) removed it first: theirs to count.
  if (!removedAny(result)) return $multi(false, undefined);
  noteRemoval(state, key);
  state.held.delete(key + id);
  const user = message.attr.user;
  if (user !== undefined) {
    setCount(state, user, key, { n: -1, b: -(tonumber(message.attr.bytes) ?? 0), exact: false });
  }
  const live = (tonumber(message.attr.expires) ?? 0) >= context.now();
  (live ? context.removed.cancelled : context.removed.expired).add(1);
  return $multi(live, undefined);
}

function drop(state: State, user: string, key: string): void {
  const { context } = state;
  context.messages.delete(key);
  noteRemoval(state, key);
  const [record, err] = context.kept.get(user);
  if (err !== undefined || record === undefined) return;
  const current = record.get(key);
  if (current === undefined) return;
  if (setCount(state, user, key, { n: 0, b: 0, exact: true })) {
    context.removed.endpoint_gone.add(current.n);
  }
}

/** Deletes an endpoint's expired messages and corrects its count; how many went. */
function removeExpired(state: State, user: string, key: string, now: number): number {
  const [items] = itemsOf(state, key);
  if (items === undefined) return 0;
  const expired: Item[] = [];
  const live: Item[] = [];
  for (const item of items) (item.expires < now ? expired : live).push(item);
  const [gone] = removeEach(state, key, expired);
  state.context.removed.expired.add(gone);
  heal(state, user, key, gone === expired.length ? live : items);
  return gone;
}

/** Removes a user's expired messages; how many went. */
function sweepUser(state: State, user: string, now: number): number {
  const [record, err] = state.context.kept.get(user);
  if (err !== undefined || record === undefined) return 0;
  const keys: string[] = [];
  for (const [key] of record) keys.push(key);
  let swept = 0;
  // A key being flushed is the flush's to count.
  for (const key of keys) {
    if (state.flushing.get(key) === undefined) swept += removeExpired(state, user, key, now);
  }
  return swept;
}

type ListUsers = (this: KeyValStore<KeptRecord>) => LuaIterable<string>;

export function mailbox(context: MailboxContext): Mailbox {
  const { kept } = context;
  const state: State = {
    context,
    flushing: new LuaTable(),
    appended: new LuaTable(),
    known: new LuaTable(),
    held: new LuaTable(),
    removals: new LuaTable(),
    counted: undefined,
    totalMessages: 0,
    totalBytes: 0,
  };

  return {
    keep: (user, key, application, instance, body, ttl, topic, held) =>
      keep(state, user, key, application, instance, body, ttl, topic, held),
    settleHeld: (user, key, id, bytes, delivered) =>
      settleHeld(state, user, key, id, bytes, delivered),
    hasKept(user, key) {
      if (state.counted !== undefined && state.counted.get(user) === undefined) {
        // Kept messages go before newer pushes, even before the count reaches the user.
        const [record, err] = kept.get(user);
        if (err === undefined) countUser(state, user, record);
      }
      return state.known.get(key) !== undefined || state.flushing.get(key) !== undefined;
    },
    flush: (fullJid) => flushFor(state, fullJid),
    cancel: (key, id) => cancel(state, key, id),
    drop: (user, key) => drop(state, user, key),
    sweep(budget, finished) {
      if (kept.users === undefined) return undefined;
      const now = context.now();
      return walkUsers(
        () => (kept.users as ListUsers).call(kept),
        (user) => sweepUser(state, user, now),
        budget,
        finished,
      );
    },
    keptBy(user) {
      const [record, err] = kept.get(user);
      if (err !== undefined) return $multi(undefined, tostring(err));
      return $multi(record, undefined);
    },
    totals: () => $multi(state.totalMessages, state.totalBytes),
    count(budget) {
      if (kept.users === undefined) return undefined;
      state.counted = new LuaTable();
      const tally = (user: string): number => {
        const [record, err] = kept.get(user);
        if (err === undefined) countUser(state, user, record);
        return 0;
      };
      const finished = (err?: string): void => {
        state.counted = undefined;
        if (err !== undefined) context.log("warn", "Could not count kept push messages: %s", err);
      };
      return walkUsers(() => (kept.users as ListUsers).call(kept), tally, budget, finished);
    },
  };
}
