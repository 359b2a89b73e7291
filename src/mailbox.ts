// Store and forward (docs/design.md, "Store and forward"): a push for a
// distributor that is away is kept, at most until its TTL runs out, and sent
// when the endpoint's full JID comes back. Messages live in an archive store,
// oldest first, in numbered buckets per endpoint: archives of at most
// BUCKET_SIZE messages each, named by its token key and the bucket's number, so
// a flush reads (and the internal driver parses) one bucket in a tick and drops
// a delivered bucket whole. A small record per user counts what each endpoint
// keeps, for the bounds and to find the endpoints with messages when a
// distributor returns, and says where its buckets and topics are. The store is
// the truth: whenever a flush or the sweep has read all of an endpoint's
// messages, the count is set from what it found.
//
// The steps, each a function below: keep (a new message, or a copy of a push
// still waiting for its answer, "held"), flush (send what an endpoint keeps, a
// window at a time, then delete what was delivered in one go), cancel (DELETE
// on a message's Location), settle a held copy, drop (the endpoint is gone)
// and sweep (expired messages).
import { ArchiveStore, KeyValStore } from "core.storagemanager";
import { bare } from "util.jid";
import { Stanza, stanza } from "util.stanza";
import { Endpoints } from "./endpoints";
import { Logger } from "./log";
import { Counts, RemovalReason } from "./metrics";
import { PendingPushes } from "./pending";
import { pushElement, pushIqWith } from "./protocol";
import { SliceBudget, Walk, walkUsers } from "./slices";
import { Entry } from "./userindex";

/**
 * What one endpoint keeps: messages and their bytes (decoded); its first and
 * last bucket and the messages appended to the last; the bucket of each topic's
 * message. Records written before buckets have only n and b: their messages are
 * all in bucket 0, taken as full.
 */
interface Kept {
  n: number;
  b: number;
  f?: number | undefined;
  l?: number | undefined;
  c?: number | undefined;
  t?: LuaMap<string, number> | undefined;
}

/** Token key of an endpoint -> what it keeps. */
export type KeptRecord = LuaMap<string, Kept>;

/** The element a message is archived as; its one child is the `<push/>` to send. */
const KEPT = "kept";
const KEPT_NS = "urn:x-mod-unified-push:kept";

/** Messages sent at once when a distributor comes back; the rest follow as it answers. */
const FLUSH_WINDOW = 8;

/**
 * Messages appended to a bucket before the next one opens. On the internal
 * driver reading or rewriting a bucket of 100 messages of 1 KB takes about 10 ms.
 */
const BUCKET_SIZE = 100;

/** The archive of an endpoint's bucket; bucket 0 is named by the key alone, as before buckets. */
function archiveName(key: string, bucket: number): string {
  return bucket === 0 ? key : `${key}#${bucket}`;
}

/** A message's id outside the mailbox: its bucket (unless 0) and its archive id. */
function messageId(bucket: number, archiveId: string): string {
  return bucket === 0 ? archiveId : `${bucket}.${archiveId}`;
}

/** The bucket and archive id in a message's id (archive ids have no "."). */
function parseMessageId(id: string): LuaMultiReturn<[bucket: number, archiveId: string]> {
  const [bucket, archiveId] = string.match(id, "^(%d+)%.(.+)$");
  if (bucket === undefined || archiveId === undefined) return $multi(0, id);
  return $multi(tonumber(bucket) ?? 0, archiveId);
}

export type KeepRefusal = "full" | "failed";

export interface MailboxContext {
  /** The messages: archives named by an endpoint's token key and bucket. */
  readonly messages: ArchiveStore;
  /** Per bare JID: what each of the user's endpoints keeps. */
  readonly kept: KeyValStore<KeptRecord>;
  /** Bounds per user (all endpoints) and per endpoint. */
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxPerEndpoint: number;
  /** Our JID, the push IQs' sender. */
  readonly service: string;
  /**
   * Sends the pushes; a stalled distributor that answers again gets what was
   * kept meanwhile.
   */
  readonly pending: PendingPushes;
  /**
   * Where each endpoint's messages go now (its index entry); an endpoint that is
   * forgotten takes what it keeps along, and one whose app is gone is revoked.
   */
  readonly endpoints: Endpoints;
  readonly newId: (this: void) => string;
  /** Seconds since the epoch. */
  readonly now: (this: void) => number;
  /** Runs `callback` on a later turn of the event loop (module:add_timer(0, …)). */
  readonly later: (this: void, callback: (this: void) => void) => void;
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
  /** Removes one kept message (by the id keep gave) before delivery; false when there is none (or it expired). */
  cancel(
    this: void,
    key: string,
    id: string,
  ): LuaMultiReturn<[found: boolean, err: undefined] | [found: undefined, err: string]>;
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
  /** Archive name -> messages appended so far (a flush tells what came after its read). */
  readonly appended: LuaTable<string, number>;
  /** Endpoint keys known to keep messages (since load). */
  readonly known: LuaTable<string, true>;
  /** Archive name .. archive id of held copies. */
  readonly held: LuaTable<string, true>;
  /**
   * Archive name -> removals by anyone so far: a flush that saw none since it
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

function noteRemoval(state: State, name: string): void {
  state.removals.set(name, (state.removals.get(name) ?? 0) + 1);
}

/** What the user's endpoint `key` keeps by the record (undefined: nothing, or the store failed). */
function keptOf(state: State, user: string, key: string): Kept | undefined {
  const [record] = state.context.kept.get(user);
  return record === undefined || record === false ? undefined : record.get(key);
}

/** Every message of one archive (bucket), oldest first (of one topic, if given); or the store's error. */
function itemsOf(
  state: State,
  name: string,
  topic?: string,
): LuaMultiReturn<[items: Item[], err: undefined] | [items: undefined, err: string]> {
  const [found, err] = state.context.messages.find(
    name,
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

/** A change to what an endpoint keeps: counts, and where its buckets and topics are. */
interface CountChange {
  /** Messages and bytes: what the store holds when `exact`, else that much more (or less). */
  readonly n: number;
  readonly b: number;
  readonly exact: boolean;
  /** The first bucket from now on. */
  readonly first?: number | undefined;
  /** The bucket just appended to, and the topic of the message appended. */
  readonly appendedTo?: number | undefined;
  readonly topic?: string | undefined;
}

/**
 * Changes what the user's endpoint `key` keeps; false when the record could not
 * be stored. The endpoint's entry goes when the store was found empty
 * (`exact`) or its only bucket is 0; a count that reaches 0 otherwise keeps
 * it, with where the buckets are, until a flush or the sweep has looked.
 */
function setCount(state: State, user: string, key: string, change: CountChange): boolean {
  const { kept } = state.context;
  const [record, err] = kept.get(user);
  if (err !== undefined) return false;
  countUser(state, user, record);
  const counts: KeptRecord = record ?? new LuaMap();
  const found = counts.get(key);
  if (found === undefined && change.exact && change.n <= 0) return true;
  const current: Kept = found ?? { n: 0, b: 0, f: 0, l: 0, c: 0 };
  let n = change.exact ? change.n : current.n + change.n;
  let b = change.exact ? change.b : current.b + change.b;
  if (n <= 0) {
    n = 0;
    b = 0;
  }
  if (n > 0) state.known.set(key, true);
  else state.known.delete(key);
  const moved = change.first !== undefined || change.appendedTo !== undefined;
  // Nothing can be left behind in bucket 0 alone: a new entry starts there.
  const gone = n === 0 && (change.exact || ((current.f ?? 0) === 0 && (current.l ?? 0) === 0));
  if (n === current.n && b === current.b && !moved && !(gone && found !== undefined)) return true;
  if (gone) {
    counts.delete(key);
  } else {
    const updated: Kept = {
      n,
      b: math.max(0, b),
      f: current.f,
      l: current.l,
      c: current.c,
      t: current.t,
    };
    if (change.appendedTo !== undefined) {
      updated.c = change.appendedTo === (current.l ?? 0) ? (current.c ?? BUCKET_SIZE) + 1 : 1;
      updated.l = change.appendedTo;
      if (change.topic !== undefined) {
        updated.t ??= new LuaMap();
        updated.t.set(change.topic, change.appendedTo);
      }
    }
    if (change.first !== undefined) {
      updated.f = change.first;
      // Topics in buckets gone are gone with them.
      if (updated.t !== undefined) {
        for (const [topic, bucket] of updated.t) {
          if (bucket < change.first) updated.t.delete(topic);
        }
      }
    }
    counts.set(key, updated);
  }
  const [ok] = kept.set(user, isEmpty(counts) ? undefined : counts);
  if (ok !== true) return false;
  state.totalMessages += n - current.n;
  state.totalBytes += math.max(0, b) - current.b;
  return true;
}

/** Trusts the store over the count: `items` are all the endpoint's messages, just read. */
function heal(
  state: State,
  user: string,
  key: string,
  current: Kept | undefined,
  items: readonly Item[],
): void {
  let bytes = 0;
  for (const item of items) bytes += item.bytes;
  const agrees = current !== undefined && current.n === items.length && current.b === bytes;
  // An entry found empty goes (where its buckets start is of no more use).
  if (agrees && items.length > 0) return;
  if (!agrees && (current !== undefined || items.length > 0)) {
    state.context.log(
      "debug",
      "Kept push messages of an endpoint counted %d, stored %d: corrected",
      current?.n ?? 0,
      items.length,
    );
  }
  setCount(state, user, key, { n: items.length, b: bytes, exact: true });
}

/** Deletes the given messages of archive `name` one by one; how many went and their bytes. */
function removeEach(
  state: State,
  name: string,
  items: readonly Item[],
): LuaMultiReturn<[messages: number, bytes: number]> {
  let gone = 0;
  let bytes = 0;
  for (const item of items) {
    const [result] = state.context.messages.delete(name, { key: item.id });
    if (removedAny(result)) {
      gone++;
      bytes += item.bytes;
      state.held.delete(name + item.id);
    }
  }
  if (gone > 0) noteRemoval(state, name);
  return $multi(gone, bytes);
}

/**
 * The message of `topic` an endpoint keeps, in the bucket the record names
 * (records from before buckets: bucket 0); empty when there is none.
 */
function topicItems(
  state: State,
  key: string,
  current: Kept | undefined,
  topic: string,
): LuaMultiReturn<
  [items: Item[], bucket: number, err: undefined] | [items: undefined, bucket: number, err: string]
> {
  let bucket: number | undefined;
  if (current !== undefined && current.c === undefined) bucket = 0;
  else if (current?.t !== undefined) bucket = current.t.get(topic);
  if (bucket === undefined || bucket < (current?.f ?? 0)) return $multi([], 0, undefined);
  const [items, err] = itemsOf(state, archiveName(key, bucket), topic);
  if (items === undefined) return $multi(undefined, bucket, err);
  return $multi(items, bucket, undefined);
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
  let current: Kept | undefined;
  if (record !== undefined) {
    for (const [endpoint, counts] of record) {
      messagesKept += counts.n;
      bytesKept += counts.b;
      if (endpoint === key) current = counts;
    }
  }
  let endpointKept = current?.n ?? 0;

  // RFC 8030 §5.4: a message with the same topic replaces the one kept.
  let replaced: Item[] = [];
  let replacedBucket = 0;
  if (topic !== undefined) {
    const [items, bucket, findErr] = topicItems(state, key, current, topic);
    if (items === undefined) return $multi(undefined, "failed", findErr);
    replaced = items;
    replacedBucket = bucket;
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
  const [replacedCount, replacedBytes] = removeEach(
    state,
    archiveName(key, replacedBucket),
    replaced,
  );
  context.removed.replaced.add(replacedCount);
  // The last bucket, or a new one when it is full (records from before buckets: bucket 0 is full).
  let bucket = current?.l ?? 0;
  if (current !== undefined && (current.c ?? BUCKET_SIZE) >= BUCKET_SIZE) bucket++;
  const name = archiveName(key, bucket);
  const [id, appendErr] = context.messages.append(name, undefined, message, now, topic);
  if (id === undefined || id === false) {
    setCount(state, user, key, { n: -replacedCount, b: -replacedBytes, exact: false });
    return $multi(undefined, "failed", tostring(appendErr));
  }
  state.appended.set(name, (state.appended.get(name) ?? 0) + 1);
  const counted = setCount(state, user, key, {
    n: 1 - replacedCount,
    b: body.length - replacedBytes,
    exact: false,
    appendedTo: bucket,
    topic,
  });
  if (!counted) {
    // Kept but not counted: it would escape the bounds, so it must not stay.
    context.messages.delete(name, { key: id });
    noteRemoval(state, name);
    return $multi(undefined, "failed", "could not update the count of kept messages");
  }
  if (held === true) state.held.set(name + id, true);
  state.known.set(key, true);
  return $multi(messageId(bucket, id), undefined, undefined);
}

function settleHeld(
  state: State,
  user: string,
  key: string,
  id: string,
  bytes: number,
  delivered: boolean,
): void {
  const [bucket, archiveId] = parseMessageId(id);
  const name = archiveName(key, bucket);
  if (state.held.get(name + archiveId) === undefined) return; // cancelled, expired or dropped meanwhile
  state.held.delete(name + archiveId);
  if (!delivered) return;
  const [result] = state.context.messages.delete(name, { key: archiveId });
  if (!removedAny(result)) return;
  noteRemoval(state, name);
  state.context.removed.delivered.add(1);
  setCount(state, user, key, { n: -1, b: -bytes, exact: false });
}

// ---- flush

/** One bucket's flush: what it read, sent and learnt. */
interface Flush {
  readonly user: string;
  readonly key: string;
  readonly entry: Entry;
  readonly target: string;
  readonly bucket: number;
  /** The bucket's archive. */
  readonly name: string;
  /** The endpoint's last bucket when this one was read: earlier ones take no more appends. */
  readonly last: number;
  /** Everything the bucket held when read, oldest first. */
  readonly items: readonly Item[];
  /** Indexes into items: what to send (live, not held). */
  readonly due: readonly number[];
  /** Per index into items: expired (true) or delivered (false), so to be deleted. */
  readonly done: LuaTable<number, boolean>;
  /** State.removals and State.appended of the bucket when it was read. */
  readonly removalsBefore: number;
  readonly appendedBefore: number;
  next: number;
  waiting: number;
  stopped: boolean;
  appGone: boolean;
}

/**
 * Deletes what a flush delivered or found expired, and counts it; true when
 * the whole bucket went. A bucket before the last, all done, goes in one
 * delete. Elsewhere, where nothing else removed a message of the bucket since
 * the flush read it, the done messages that lead it go in one delete (keeping
 * the newest: the rest it read and what was appended since); the others one by
 * one.
 */
function removeDone(state: State, flush: Flush): boolean {
  const { items, done, name, user, key } = flush;
  const { removed, messages } = state.context;
  let prefix = 0;
  let prefixBytes = 0;
  while (prefix < items.length && done.get(prefix) !== undefined) {
    prefixBytes += items[prefix].bytes;
    prefix++;
  }
  const untouched = (state.removals.get(name) ?? 0) === flush.removalsBefore;
  let from = 0;
  let whole = false;
  if (untouched && prefix === items.length && flush.bucket < flush.last) {
    const [result] = messages.delete(name);
    whole = result !== undefined && result !== false;
    if (whole) from = prefix;
  } else if (untouched && prefix > 0) {
    const appended = (state.appended.get(name) ?? 0) - flush.appendedBefore;
    const [result] = messages.delete(name, { truncate: items.length - prefix + appended });
    if (result === prefix) {
      from = prefix;
    } else if (removedAny(result)) {
      // Not what this flush expected: the ones it meant are looked for one by one.
      noteRemoval(state, name);
    }
  }
  let gone = from;
  let bytes = from === prefix ? prefixBytes : 0;
  if (from > 0) {
    noteRemoval(state, name);
    for (let i = 0; i < from; i++) {
      state.held.delete(name + items[i].id);
      (done.get(i) === true ? removed.expired : removed.delivered).add(1);
    }
  }
  for (let i = from; i < items.length; i++) {
    const expired = done.get(i);
    if (expired !== undefined) {
      const [one, oneBytes] = removeEach(state, name, [items[i]]);
      (expired ? removed.expired : removed.delivered).add(one);
      gone += one;
      bytes += oneBytes;
    }
  }
  if (gone > 0 || whole) {
    setCount(state, user, key, {
      n: -gone,
      b: -bytes,
      exact: false,
      first: whole ? flush.bucket + 1 : undefined,
    });
  }
  return whole;
}

function finishBucket(state: State, flush: Flush): void {
  const { context } = state;
  const { user, key, target, bucket, name } = flush;
  const whole = removeDone(state, flush);
  if (flush.appGone) {
    // The rest goes with the endpoint.
    endFlush(state, key, target);
    const [ok, reason] = context.endpoints.revokeEntry(user, key, flush.entry);
    if (!ok) context.log("warn", "Could not revoke a push endpoint: %s", reason);
    return;
  }
  const current = keptOf(state, user, key);
  const last = current?.l ?? 0;
  if (!whole) {
    // The store is the truth: read the bucket again; when it is the only one,
    // heal the count. Go on with what arrived in it meanwhile.
    const [left] = itemsOf(state, name);
    if (left !== undefined && (current?.f ?? 0) === bucket && last === bucket) {
      heal(state, user, key, current, left);
    }
    const arrived = (state.appended.get(name) ?? 0) > flush.appendedBefore;
    if (!flush.stopped && arrived && left !== undefined && left.length > 0) {
      flushBucket(state, user, key, flush.entry, target, bucket);
      return;
    }
  }
  if (!flush.stopped && bucket < last) {
    flushBucket(state, user, key, flush.entry, target, bucket + 1);
    return;
  }
  endFlush(state, key, target);
  context.log("debug", "Sent kept push messages to <%s>", target);
}

function endFlush(state: State, key: string, target: string): void {
  if (state.flushing.get(key) === target) state.flushing.delete(key);
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
        finishBucket(state, flush);
      } else {
        sendMore(state, flush);
      }
    });
  }
}

/** Sends one bucket's messages in order, a window at a time, then forgets what was delivered. */
function flushBucket(
  state: State,
  user: string,
  key: string,
  entry: Entry,
  target: string,
  bucket: number,
): void {
  const { context } = state;
  const name = archiveName(key, bucket);
  const removalsBefore = state.removals.get(name) ?? 0;
  const appendedBefore = state.appended.get(name) ?? 0;
  const [items, err] = itemsOf(state, name);
  if (items === undefined) {
    context.log("warn", "Could not read kept push messages: %s", err);
    endFlush(state, key, target);
    return;
  }
  const current = keptOf(state, user, key);
  const last = current?.l ?? 0;
  if ((current?.f ?? 0) === bucket && last === bucket) heal(state, user, key, current, items);
  const now = context.now();
  const due: number[] = [];
  const done = new LuaTable<number, boolean>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item.expires < now) done.set(i, true);
    else if (state.held.get(name + item.id) === undefined) due.push(i);
  }
  state.flushing.set(key, target);
  const flush: Flush = {
    user,
    key,
    entry,
    target,
    bucket,
    name,
    last,
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
  if (due.length === 0) finishBucket(state, flush);
  else sendMore(state, flush);
}

function flushFor(state: State, fullJid: string): void {
  const { context } = state;
  const user = bare(fullJid) ?? fullJid;
  const [record, err] = context.kept.get(user);
  if (err !== undefined || record === undefined) return;
  let started = false;
  for (const [key, counts] of record) {
    // A flush to another full JID (a dead resource) does not block this one.
    if (state.flushing.get(key) !== fullJid) {
      const [entry, entryErr] = context.endpoints.entry(user, key);
      if (entryErr !== undefined) {
        context.log("warn", "Could not look up a push endpoint: %s", entryErr);
      } else if (entry === undefined || entry.e < context.now()) {
        // The endpoint is gone (expired or revoked): so is what it kept.
        drop(state, user, key);
      } else if (entry.j === fullJid && !started) {
        started = true;
        flushBucket(state, user, key, entry, fullJid, counts.f ?? 0);
      } else if (entry.j === fullJid) {
        // One endpoint's first bucket a turn: a user's many are not read at once.
        state.flushing.set(key, fullJid);
        context.later(() => {
          if (state.flushing.get(key) !== fullJid) return; // moved on meanwhile
          const first = keptOf(state, user, key)?.f ?? 0;
          flushBucket(state, user, key, entry, fullJid, first);
        });
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
  const [bucket, archiveId] = parseMessageId(id);
  const name = archiveName(key, bucket);
  const [found, err] = context.messages.find(name, { key: archiveId });
  if (found === undefined || found === false) return $multi(undefined, tostring(err));
  let message: Stanza | undefined;
  for (const [, value] of found) message = value;
  if (message === undefined) return $multi(false, undefined);
  const [result, deleteErr] = context.messages.delete(name, { key: archiveId });
  if (result === undefined || result === false) return $multi(undefined, tostring(deleteErr));
  // Someone else (a flush, the sweep) removed it first: theirs to count.
  if (!removedAny(result)) return $multi(false, undefined);
  noteRemoval(state, name);
  state.held.delete(name + archiveId);
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
  const current = keptOf(state, user, key);
  for (let bucket = current?.f ?? 0; bucket <= (current?.l ?? 0); bucket++) {
    const name = archiveName(key, bucket);
    context.messages.delete(name);
    noteRemoval(state, name);
  }
  if (current === undefined) return;
  if (setCount(state, user, key, { n: 0, b: 0, exact: true })) {
    context.removed.endpoint_gone.add(current.n);
  }
}

/**
 * Deletes an endpoint's expired messages, and its buckets left empty before
 * the last; corrects its count from what it read. How many messages went.
 */
function removeExpired(
  state: State,
  user: string,
  key: string,
  current: Kept,
  now: number,
): number {
  const last = current.l ?? 0;
  const live: Item[] = [];
  let swept = 0;
  let sweptBytes = 0;
  let complete = true;
  // Leading buckets left empty are skipped from now on (the internal driver
  // removes an archive's file when its last message goes).
  let first = current.f ?? 0;
  for (let bucket = first; bucket <= last; bucket++) {
    const name = archiveName(key, bucket);
    const [items] = itemsOf(state, name);
    if (items === undefined) {
      complete = false;
    } else {
      const expired: Item[] = [];
      for (const item of items) (item.expires < now ? expired : live).push(item);
      const [gone, bytes] = removeEach(state, name, expired);
      swept += gone;
      sweptBytes += bytes;
      if (gone !== expired.length) complete = false;
      else if (complete && bucket === first && bucket < last && items.length === gone) first++;
    }
  }
  state.context.removed.expired.add(swept);
  if (complete) {
    heal(state, user, key, current, live);
    if (first !== (current.f ?? 0) && live.length > 0) {
      setCount(state, user, key, { n: 0, b: 0, exact: false, first });
    }
  } else if (swept > 0) {
    setCount(state, user, key, { n: -swept, b: -sweptBytes, exact: false });
  }
  return swept;
}

/** Removes a user's expired messages; how many went. */
function sweepUser(state: State, user: string, now: number): number {
  const [record, err] = state.context.kept.get(user);
  if (err !== undefined || record === undefined) return 0;
  const endpoints: [string, Kept][] = [];
  for (const [key, counts] of record) endpoints.push([key, counts]);
  let swept = 0;
  // A key being flushed is the flush's to count.
  for (const [key, counts] of endpoints) {
    if (state.flushing.get(key) === undefined)
      swept += removeExpired(state, user, key, counts, now);
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
  context.endpoints.onForgotten((user, key) => drop(state, user, key));
  context.pending.onRecovered((fullJid) => flushFor(state, fullJid));

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
