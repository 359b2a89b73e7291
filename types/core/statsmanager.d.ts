/** @noSelfInFile */

/**
 * core.statsmanager: whether Prosody keeps statistics, and the registry they are
 * kept in. Modules declare their metrics through `module:metric()`; this library
 * is for asking about them. Same on 0.12 and 13.
 *
 * Statistics are on with a `statistics` provider (`"internal"`, `"statsd"`) or a
 * `statistics_interval` in the global section. Without them, `module:metric()`
 * gives a stand-in whose every member is itself, so recording costs nothing and
 * reading gets nothing: check `get_metric_registry()` before reading metrics.
 * @see https://prosody.im/doc/statistics
 */
/** @noResolution */
declare module "core.statsmanager" {
  import type { MetricRegistry } from "util.openmetrics";

  /** The registry, or `undefined` when statistics are off. */
  export function get_metric_registry(): MetricRegistry | undefined;
}
