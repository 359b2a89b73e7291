// Pushes waiting for the distributor's answer. This replaces module:send_iq,
// which keeps at most 256 IQs in flight (evicting older ones with an error) and
// leaves two event handlers and a timer behind for every evicted IQ (docs/design.md, "Decisions").
// Here one hook on the host serves every answer, one timer serves every
// timeout, and pushes to a distributor that goes offline are settled at once.
// A push that may be kept has an answer window (docs/design.md, "Real mobile
// links"): unanswered by then, it is settled "late" first (and later once more
// for good), held, and its target counts as stalled until it answers anything
// or goes away.
import { bare } from "util.jid";
import { Stanza } from "util.stanza";
import { monotonic } from "util.time";

/** What became of a push. */
export type Answer =
  /** The distributor answered result. */
  | "delivered"
  /** item-not-found or feature-not-implemented: the app is gone for good. */
  | "gone"
  /** Any other error, no answer in time, or the distributor went offline. */
  | "unavailable"
  /** Not yet answered when the answer window closed: not final, it is settled again later. */
  | "late";

export interface Settlement {
  readonly answer: Answer;
  /** The error condition, or "timeout" / "offline", for the debug log. */
  readonly reason: string;
  /** True when the distributor answered (result or error), not the timeout or its going offline. */
  readonly answered: boolean;
}

/** How a push waits: "window" (kept if unanswered in time) or "held" (kept already). */
export type SendMode = "window" | "held";

/**
 * Called once per push, with what came of it and the seconds from sending it
 * to then; before that once with "late" for a push whose answer window closed.
 */
export type SettleCallback = (this: void, settlement: Settlement, waited: number) => void;

interface Waiting {
  readonly to: string;
  /** The distributor's bare JID: the user the in-flight limit counts for. */
  readonly user: string;
  readonly settle: SettleCallback;
  /** When it was sent, on context.clock. */
  readonly sent: number;
  /** When to give up waiting, on context.clock; a held push moves it on. */
  deadline: number;
  /** For a push with an answer window, until the window closes. */
  windowed: boolean;
  /**
   * Settled "late" (so kept elsewhere): no timeout gives up on it while its
   * target has a session, since stream management still delivers it or
   * bounces it when the session ends.
   */
  held: boolean;
}

const GONE_CONDITIONS: Record<string, true | undefined> = {
  "item-not-found": true,
  "feature-not-implemented": true,
};

const DELIVERED: Settlement = { answer: "delivered", reason: "result", answered: true };
const TIMED_OUT: Settlement = { answer: "unavailable", reason: "timeout", answered: false };
const WENT_OFFLINE: Settlement = { answer: "unavailable", reason: "offline", answered: false };
const UNLOADED: Settlement = { answer: "unavailable", reason: "unload", answered: false };
const LATE: Settlement = { answer: "late", reason: "window", answered: false };

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
  /** Seconds a push sent with a window waits for its answer before it is settled "late". */
  readonly window: number;
  /** True while the full JID has a session (hibernating or not). */
  readonly hasSession: (this: void, fullJid: string) => boolean;
}

export interface PendingPushes {
  /**
   * Sends the push IQ (its id must be unique) to a distributor of `user` (its
   * bare JID, which the caller knows already) and calls `settle` once with what
   * came of it: an answer, the timeout, the distributor going offline or unload.
   * A push sent with "window" and unanswered within the window is settled
   * "late" first and then held (see Waiting.held), and its target is stalled;
   * one sent "held" is held from the start (it is kept already).
   */
  send(this: void, iq: Stanza, user: string, settle: SettleCallback, mode?: SendMode): void;
  /**
   * True while a full JID has left a push unanswered past its window and has
   * answered nothing since: new pushes for it are better kept than sent.
   */
  stalled(this: void, fullJid: string): boolean;
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
  /** Calls `listener` whenever a stalled full JID answers a push with a result. */
  onRecovered(this: void, listener: (this: void, fullJid: string) => void): void;
}

export function pendingPushes(context: PendingContext): PendingPushes {
  const byId = new LuaTable<string, Waiting>();
  const perUser = new LuaTable<string, number>();
  const stalled = new LuaTable<string, true>();
  // Ids in the order sent. Every push waits the same time, so this is also the
  // order of their deadlines: the front is the next to time out. One timer per
  // push (module:add_timer) would put an entry per push into the server's timer
  // heap; with thousands in flight that heap work was the top of the profile.
  const queue = new LuaTable<number, string>();
  let front = 1;
  let back = 0;
  let sweeper: { stop(this: unknown): void } | undefined;
  // Pushes with an answer window, in the order sent (so of their windows' ends).
  const windows = new LuaTable<number, string>();
  let windowFront = 1;
  let windowBack = 0;
  let windowSweeper: { stop(this: unknown): void } | undefined;
  const recovered: ((this: void, fullJid: string) => void)[] = [];

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
    waiting.settle(settlement, context.clock() - waiting.sent);
  }

  function enqueue(id: string): void {
    back++;
    queue.set(back, id);
  }

  /** Times out what is overdue; returns the seconds until the next deadline, if any. */
  function sweep(this: void): number | undefined {
    const now = context.clock();
    skipSettled();
    while (front <= back) {
      const id = queue.get(front);
      const waiting = byId.get(id);
      if (waiting.deadline > now) return waiting.deadline - now;
      if (waiting.held && context.hasSession(waiting.to)) {
        // Still on its way (or in a stream-management queue): wait another round.
        queue.delete(front);
        front++;
        waiting.deadline = now + context.timeout;
        enqueue(id);
        skipSettled();
      } else {
        finish(id, TIMED_OUT);
      }
    }
    sweeper = undefined;
    return undefined;
  }

  /** Settles "late" the pushes whose window has closed unanswered. */
  function sweepWindows(this: void): number | undefined {
    const now = context.clock();
    while (windowFront <= windowBack) {
      const waiting = byId.get(windows.get(windowFront));
      if (waiting !== undefined && waiting.windowed) {
        const closes = waiting.sent + context.window;
        if (closes > now) return closes - now;
        waiting.windowed = false;
        waiting.held = true;
        stalled.set(waiting.to, true);
        waiting.settle(LATE, now - waiting.sent);
      }
      windows.delete(windowFront);
      windowFront++;
    }
    windowSweeper = undefined;
    return undefined;
  }

  return {
    send(iq, user, settle, mode) {
      const id = iq.attr.id as string;
      const to = iq.attr.to as string;
      const sent = context.clock();
      const windowed = mode === "window";
      const held = mode === "held";
      byId.set(id, { to, user, settle, sent, deadline: sent + context.timeout, windowed, held });
      enqueue(id);
      perUser.set(user, (perUser.get(user) ?? 0) + 1);
      sweeper ??= context.addTimer(context.timeout, sweep);
      if (windowed) {
        windowBack++;
        windows.set(windowBack, id);
        windowSweeper ??= context.addTimer(context.window, sweepWindows);
      }
      context.send(iq);
    },

    stalled(fullJid) {
      return stalled.get(fullJid) !== undefined;
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
      // It answers again; after a result, what was kept meanwhile can go.
      const to = waiting.to;
      if (stalled.get(to) !== undefined) {
        stalled.delete(to);
        if (reply.attr.type === "result") for (const listener of recovered) listener(to);
      }
      return true;
    },

    dropTarget(fullJid) {
      stalled.delete(fullJid);
      if (perUser.get(bare(fullJid) ?? fullJid) === undefined) return;
      for (const [id, waiting] of byId) {
        if (waiting.to === fullJid) finish(id, WENT_OFFLINE);
      }
    },

    dropAll() {
      for (const [id] of byId) finish(id, UNLOADED);
      sweeper?.stop();
      sweeper = undefined;
      windowSweeper?.stop();
      windowSweeper = undefined;
    },

    countFor(user) {
      return perUser.get(user) ?? 0;
    },

    total() {
      let waiting = 0;
      for (const [, count] of perUser) waiting += count;
      return waiting;
    },

    onRecovered(listener) {
      recovered.push(listener);
    },
  };
}

/** Takes the distributors' answers to our pushes, before mod_iq looks for per-id handlers. */
export function hookAnswers(module: Prosody.Module, pending: PendingPushes): void {
  module.hook(
    "iq/host",
    (event) => {
      const kind = event.stanza.attr.type;
      if ((kind === "result" || kind === "error") && pending.answer(event.stanza)) return true;
      return undefined;
    },
    10,
  );
}

/** Pushes sent by `module`: on its timers, Prosody's sessions and the monotonic clock. */
export function pendingPushesOf(
  module: Prosody.Module,
  timeout: number,
  window: number,
): PendingPushes {
  return pendingPushes({
    send: (stanza) => module.send(stanza),
    addTimer: (delay, callback) => module.add_timer(delay, callback),
    clock: monotonic,
    timeout,
    window,
    hasSession: (fullJid) => prosody.full_sessions[fullJid] !== undefined,
  });
}
