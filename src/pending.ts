// Pushes waiting for the distributor's answer. This replaces module:send_iq,
// which keeps at most 256 IQs in flight (evicting older ones with an error) and
// leaves two event handlers and a timer behind for every evicted IQ (docs/design.md, "Decisions").
// Here one hook on the host serves every answer, one timer serves every
// timeout, and pushes to a distributor that goes offline are settled at once.
import { bare } from "util.jid";
import { Stanza } from "util.stanza";

/** What became of a push. */
export type Answer =
  /** The distributor answered result. */
  | "delivered"
  /** item-not-found or feature-not-implemented: the app is gone for good. */
  | "gone"
  /** Any other error, no answer in time, or the distributor went offline. */
  | "unavailable";

export interface Settlement {
  readonly answer: Answer;
  /** The error condition, or "timeout" / "offline", for the debug log. */
  readonly reason: string;
  /** True when the distributor answered (result or error), not the timeout or its going offline. */
  readonly answered: boolean;
}

/** Called once per push, with what came of it and the seconds from sending it to then. */
export type SettleCallback = (this: void, settlement: Settlement, waited: number) => void;

interface Waiting {
  readonly to: string;
  /** The distributor's bare JID: the user the in-flight limit counts for. */
  readonly user: string;
  readonly settle: SettleCallback;
  /** When to give up waiting, on context.clock. */
  readonly deadline: number;
}

const GONE_CONDITIONS: Record<string, true | undefined> = {
  "item-not-found": true,
  "feature-not-implemented": true,
};

const DELIVERED: Settlement = { answer: "delivered", reason: "result", answered: true };
const TIMED_OUT: Settlement = { answer: "unavailable", reason: "timeout", answered: false };
const WENT_OFFLINE: Settlement = { answer: "unavailable", reason: "offline", answered: false };

export interface PendingContext {
  /** Sends a stanza (module:send). */
  readonly send: (this: void, stanza: Stanza) => void;
  /**
   * module:add_timer: calls `callback` after `delay` seconds, and again after the
   * number of seconds it returns, if any; the handle can stop it.
   */
  readonly addTimer: (
    this: void,
    delay: number,
    callback: (this: void) => number | undefined,
  ) => { stop(this: unknown): void };
  /** Seconds on a monotonic clock. */
  readonly clock: (this: void) => number;
  /** Seconds to wait for an answer. */
  readonly timeout: number;
}

export interface PendingPushes {
  /**
   * Sends the push IQ (its id must be unique) to a distributor of `user` (its
   * bare JID, which the caller knows already) and calls `settle` once with what
   * came of it: an answer, the timeout, the distributor going offline or unload.
   */
  send(this: void, iq: Stanza, user: string, settle: SettleCallback): void;
  /** Handles an IQ result or error if it answers one of our pushes; true if it did. */
  answer(this: void, reply: Stanza): boolean;
  /** Settles every push waiting on a full JID that has gone offline. */
  dropTarget(this: void, fullJid: string): void;
  /** Settles everything and stops the timer (module unload). */
  dropAll(this: void): void;
  /** Pushes waiting on any distributor of one user (bare JID). */
  countFor(this: void, user: string): number;
  /** Pushes waiting, on every distributor (counted when asked: for the metrics). */
  total(this: void): number;
}

export function pendingPushes(context: PendingContext): PendingPushes {
  const byId = new LuaTable<string, Waiting>();
  const perUser = new LuaTable<string, number>();
  // Ids in the order sent. Every push waits the same time, so this is also the
  // order of their deadlines: the front is the next to time out. One timer per
  // push (module:add_timer) would put an entry per push into the server's timer
  // heap; with thousands in flight that heap work was the top of the profile.
  const queue = new LuaTable<number, string>();
  let front = 1;
  let back = 0;
  let sweeper: { stop(this: unknown): void } | undefined;

  /** Dequeues pushes at the front that have already settled. */
  function skipSettled(): void {
    while (front <= back && byId.get(queue.get(front)) === undefined) {
      queue.delete(front);
      front++;
    }
  }

  function finish(id: string, settlement: Settlement): void {
    const waiting = byId.get(id);
    if (waiting === undefined) return;
    byId.delete(id);
    const left = (perUser.get(waiting.user) ?? 1) - 1;
    if (left > 0) perUser.set(waiting.user, left);
    else perUser.delete(waiting.user);
    skipSettled();
    waiting.settle(settlement, context.clock() - (waiting.deadline - context.timeout));
  }

  /** Times out what is overdue; returns the seconds until the next deadline, if any. */
  function sweep(this: void): number | undefined {
    const now = context.clock();
    skipSettled();
    while (front <= back) {
      const id = queue.get(front);
      const deadline = byId.get(id).deadline;
      if (deadline > now) return deadline - now;
      finish(id, TIMED_OUT);
    }
    sweeper = undefined;
    return undefined;
  }

  return {
    send(iq, user, settle) {
      const id = iq.attr.id as string;
      const to = iq.attr.to as string;
      byId.set(id, { to, user, settle, deadline: context.clock() + context.timeout });
      back++;
      queue.set(back, id);
      perUser.set(user, (perUser.get(user) ?? 0) + 1);
      sweeper ??= context.addTimer(context.timeout, sweep);
      context.send(iq);
    },

    answer(reply) {
      const id = reply.attr.id;
      if (id === undefined) return false;
      const waiting = byId.get(id);
      // Only the distributor we asked may answer (ids are random, but be sure).
      if (waiting === undefined || waiting.to !== reply.attr.from) return false;
      if (reply.attr.type === "result") {
        finish(id, DELIVERED);
      } else {
        const [, condition] = reply.get_error();
        const reason = condition ?? "undefined-condition";
        const answer = GONE_CONDITIONS[reason] === true ? "gone" : "unavailable";
        finish(id, { answer, reason, answered: true });
      }
      return true;
    },

    dropTarget(fullJid) {
      if (perUser.get(bare(fullJid) ?? fullJid) === undefined) return;
      for (const [id, waiting] of byId) {
        if (waiting.to === fullJid) finish(id, WENT_OFFLINE);
      }
    },

    dropAll() {
      for (const [id] of byId) finish(id, WENT_OFFLINE);
      sweeper?.stop();
      sweeper = undefined;
    },

    countFor(user) {
      return perUser.get(user) ?? 0;
    },

    total() {
      let waiting = 0;
      for (const [, count] of perUser) waiting += count;
      return waiting;
    },
  };
}
