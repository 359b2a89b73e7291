// Work over every user, a slice per timer tick (STYLE 17, docs/design.md
// "Work over every user"): a walk visits at most so many users, and stops early
// when its time is up, then yields until the next tick. The store's listing is
// consumed as the walk goes (the internal driver reads its directory lazily), so
// a tick never pays for all users.

import { monotonic } from "util.time";

/** Seconds a slice may run before it yields. */
const SLICE_SECONDS = 0.01;
/** Seconds between two slices: the server serves what waits meanwhile. */
const SLICE_PAUSE = 0.02;

/** How much one slice may do. */
export interface SliceBudget {
  /** Users visited per slice at most. */
  readonly users: number;
  /** Seconds of work per slice at most, on `clock`. */
  readonly seconds: number;
  readonly clock: (this: void) => number;
  /** Seconds between two slices. */
  readonly pause: number;
}

/** Slices of at most `users` users (or records) and 10 ms, on the monotonic clock, 20 ms apart. */
export function sliceOf(users: number): SliceBudget {
  return { users, seconds: SLICE_SECONDS, clock: monotonic, pause: SLICE_PAUSE };
}

export interface Walk {
  /** Runs one slice; true once every user has been visited (or the walk failed). */
  step(this: void): boolean;
  /** What the visits returned, summed so far. */
  total(this: void): number;
}

/**
 * Visits every user `list` gives, in slices of `budget`. `finished` runs once at
 * the end, with why the walk stopped early (a store that failed), if it did.
 */
export function walkUsers(
  list: (this: void) => LuaIterable<string>,
  visit: (this: void, user: string) => number,
  budget: SliceBudget,
  finished: (this: void, err?: string) => void,
): Walk {
  let sum = 0;
  let done = false;
  const walker = coroutine.create(() => {
    let visited = 0;
    let started = budget.clock();
    for (const user of list()) {
      sum += visit(user);
      visited++;
      if (visited >= budget.users || budget.clock() - started >= budget.seconds) {
        coroutine.yield();
        visited = 0;
        started = budget.clock();
      }
    }
  });
  return {
    step() {
      if (done) return true;
      const [ok, err] = coroutine.resume(walker);
      if (!ok) {
        done = true;
        finished(tostring(err));
      } else if (coroutine.status(walker) === "dead") {
        done = true;
        finished();
      }
      return done;
    },
    total: () => sum,
  };
}

type AddTimer = (this: void, delay: number, callback: (this: void) => number | void) => void;

/**
 * Runs `walk` a slice per timer tick, `pause` seconds apart (more than 0: a timer
 * due at once would run again in the same pass of the timer loop).
 */
export function runWalk(walk: Walk, addTimer: AddTimer, pause: number): void {
  addTimer(0, () => {
    if (!walk.step()) return pause;
    return undefined;
  });
}
