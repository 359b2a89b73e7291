/** @noSelfInFile */

/**
 * util.openmetrics: the metric families and registry behind Prosody's statistics
 * (`module:metric()`; the `internal` provider is util.statistics, `statsd` is
 * util.statsd). Same on 0.12 and 13.
 *
 * A family (`module:metric()`'s result) hands out one metric per set of label
 * values; the registry renders every family in the OpenMetrics text format, as
 * mod_http_openmetrics serves it. Family names have `/` rendered as `__`, a unit
 * appended as `_<unit>`, and counters' samples end in `_total`.
 * @see https://prosody.im/doc/statistics
 */
/** @noResolution */
declare module "util.openmetrics" {
  /**
   * A metric's samples: the suffix added to the family name (`""`, `"_total"`,
   * `"_created"`, `"_count"`, `"_sum"`, `"_bucket"`), extra labels (a histogram
   * bucket's `le`), and the value. util.statsd's metrics have none.
   */
  export type Samples = LuaIterable<
    LuaMultiReturn<[suffix: string, labels: { readonly le?: string } | undefined, value: number]>
  >;

  /** What every metric has, whatever its type. */
  export interface Metric {
    iter_samples(this: Metric): Samples;
    reset(this: Metric): void;
  }

  export interface Gauge extends Metric {
    set(this: Gauge, value: number): void;
    add(this: Gauge, delta: number): void;
  }

  export interface Counter extends Metric {
    add(this: Counter, delta: number): void;
    set(this: Counter, value: number): void;
  }

  /** Counts each sample into every bucket whose bound it does not exceed (and `+Inf`). */
  export interface Histogram extends Metric {
    sample(this: Histogram, value: number): void;
  }

  /** Count and sum of samples (no quantiles). */
  export interface Summary extends Metric {
    sample(this: Summary, value: number): void;
  }

  /**
   * A metric family. `with_labels` takes exactly one value per label key not yet
   * filled in (the `host` label is, for families of host modules) and raises a
   * Lua error otherwise; the same values give the same metric object, so look it
   * up once and keep it.
   */
  export interface MetricFamily<M extends Metric> {
    with_labels(this: MetricFamily<M>, ...values: string[]): M;
    with_partial_label(this: MetricFamily<M>, value: string): MetricFamily<M>;
  }

  /** Every family Prosody knows, by rendered name. */
  export interface MetricRegistry {
    /** The OpenMetrics text exposition, ending in `# EOF`. */
    render(this: MetricRegistry): string;
  }
}
