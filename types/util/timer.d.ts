/** @noSelfInFile */

/**
 * util.timer: low-level timers. Prefer `module:add_timer()`, which stops the
 * timer when the module unloads and returns a handle.
 * @see https://prosody.im/doc/developers/util/timer
 */
/** @noResolution */
declare module "util.timer" {
  /** Opaque timer id. */
  export type TimerId = number & { readonly __timerIdBrand: never };

  /**
   * Called with `.` with the current wall-clock time; returning a number
   * reschedules the timer that many seconds later.
   */
  export type TimerCallback<P> = (this: void, now: number, id: TimerId, param: P) => number | void;

  /** Runs `callback` after `delay` seconds. */
  export function add_task<P = undefined>(
    delay: number,
    callback: TimerCallback<P>,
    param?: P,
  ): TimerId;
  export function stop(id: TimerId): void;
  export function reschedule(id: TimerId, delay: number): void;
}
