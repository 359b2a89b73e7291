/** @noSelfInFile */

/**
 * util.time (C library): clocks, in seconds with sub-second precision.
 */
/** @noResolution */
declare module "util.time" {
  /** Wall-clock Unix time (a float; see util.datetime before formatting it on 0.12). */
  export function now(): number;
  /** Monotonic time, for measuring durations. */
  export function monotonic(): number;
}
