// Pushes waiting for the distributor's answer. This replaces module:send_iq,
// which keeps at most 256 IQs in flight (evicting older ones with an error) and
// leaves two event handlers and a timer behind for every evicted IQ (SPEC §6).
// Here one hook on the host serves every answer, each push has one timer that
// is stopped when it settles, and pushes to a distributor that goes offline are
// settled at once.
import { new as newPromise, Promise } from "util.promise";
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
}

interface Waiting {
  readonly to: string;
  /** The distributor's bare JID: the user the in-flight limit counts for. */
  readonly user: string;
  readonly settle: (this: void, settlement: Settlement) => void;
  readonly timer: { stop(this: unknown): void };
}

const GONE_CONDITIONS: Record<string, true | undefined> = {
  "item-not-found": true,
  "feature-not-implemented": true,
};

const DELIVERED: Settlement = { answer: "delivered", reason: "result" };
const TIMED_OUT: Settlement = { answer: "unavailable", reason: "timeout" };
const WENT_OFFLINE: Settlement = { answer: "unavailable", reason: "offline" };

export interface PendingContext {
  /** Sends a stanza (module:send). */
  readonly send: (this: void, stanza: Stanza) => void;
  /** module:add_timer: calls `callback` once after `delay` seconds; the handle can stop it. */
  readonly addTimer: (
    this: void,
    delay: number,
    callback: (this: void) => void,
  ) => { stop(this: unknown): void };
  readonly timeout: number;
}

export interface PendingPushes {
  /** Sends the push IQ (its id must be unique) and resolves with what came of it. */
  send(this: void, iq: Stanza): Promise<Settlement>;
  /** Handles an IQ result or error if it answers one of our pushes; true if it did. */
  answer(this: void, reply: Stanza): boolean;
  /** Settles every push waiting on a full JID that has gone offline. */
  dropTarget(this: void, fullJid: string): void;
  /** Settles everything (module unload). */
  dropAll(this: void): void;
  /** Pushes waiting on any distributor of one user (bare JID). */
  countFor(this: void, user: string): number;
}

export function pendingPushes(context: PendingContext): PendingPushes {
  const byId = new LuaTable<string, Waiting>();
  const perUser = new LuaTable<string, number>();

  function finish(id: string, settlement: Settlement): void {
    const waiting = byId.get(id);
    if (waiting === undefined) return;
    byId.delete(id);
    const left = (perUser.get(waiting.user) ?? 1) - 1;
    if (left > 0) perUser.set(waiting.user, left);
    else perUser.delete(waiting.user);
    waiting.timer.stop();
    waiting.settle(settlement);
  }

  return {
    send(iq) {
      const id = iq.attr.id as string;
      const to = iq.attr.to as string;
      return newPromise<Settlement>((resolve) => {
        const timer = context.addTimer(context.timeout, () => finish(id, TIMED_OUT));
        const user = bare(to) ?? to;
        byId.set(id, { to, user, settle: resolve, timer });
        perUser.set(user, (perUser.get(user) ?? 0) + 1);
        context.send(iq);
      });
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
        finish(id, { answer: GONE_CONDITIONS[reason] === true ? "gone" : "unavailable", reason });
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
    },

    countFor(user) {
      return perUser.get(user) ?? 0;
    },
  };
}
