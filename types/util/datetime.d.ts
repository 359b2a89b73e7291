/** @noSelfInFile */

/**
 * util.datetime: XEP-0082 date and time strings, always UTC. Times default to now.
 *
 * Pass whole seconds: on 0.12 (Lua 5.4) a fractional time such as
 * `util.time.now()` raises "number has no integer representation"; 13 accepts it
 * and prints microseconds (`…T12:00:00.250000Z`).
 */
/** @noResolution */
declare module "util.datetime" {
  /** `YYYY-MM-DD` */
  export function date(t?: number): string;
  /** `YYYY-MM-DDThh:mm:ssZ` */
  export function datetime(t?: number): string;
  /** `hh:mm:ss` */
  export function time(t?: number): string;
  /** XEP-0091 legacy format `YYYYMMDDThh:mm:ss`. */
  export function legacy(t?: number): string;
  /** Unix time of an XEP-0082 date-time, or `undefined` if it does not parse. */
  export function parse(s: string | undefined): number | undefined;
}
