// The module's metrics (README "Metrics"), declared once at load through
// Prosody's statistics API (module:metric), so mod_http_openmetrics or any other
// statistics provider exposes them. Every labelled series is looked up here,
// once: recording one is a table lookup and an add. Logic modules get only the
// counters they record to, through their contexts; gauges are set when Prosody
// collects (stats-update), from levels the relay and the mailbox keep anyway.
import { Counter, Gauge, Histogram, Metric } from "util.openmetrics";

/** A counter, as the code that counts sees it. */
export interface Count {
  add(this: Count, delta: number): void;
}

/** A histogram of durations in seconds, as the code that measures sees it. */
export interface Timing {
  sample(this: Timing, seconds: number): void;
}

/** One counter per label value. */
export type Counts<K extends string> = { readonly [key in K]: Count };

/** What became of a POST to an endpoint (or a Matrix notification's pushkey). */
export const PUSH_OUTCOMES = [
  "delivered",
  "stored",
  "gone",
  "unavailable",
  "limited",
  "bad_request",
  "unknown_endpoint",
  "failed",
] as const;
export type PushOutcome = (typeof PUSH_OUTCOMES)[number];

/** What became of a registration IQ: new or renewed, else why it was refused. */
export const REGISTRATION_OUTCOMES = [
  "new",
  "renewed",
  "forbidden",
  "bad_request",
  "limited",
  "failed",
] as const;
export type RegistrationOutcome = (typeof REGISTRATION_OUTCOMES)[number];

/** Why endpoints were revoked: the app is gone, an admin did it, the account was deleted. */
export const REVOCATION_REASONS = ["gone", "admin", "account_deleted"] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** Why a stored message was removed. */
export const REMOVAL_REASONS = [
  "delivered",
  "expired",
  "cancelled",
  "replaced",
  "endpoint_gone",
] as const;
export type RemovalReason = (typeof REMOVAL_REASONS)[number];

/** Upper bounds of the answer-time buckets, seconds: a distributor online answers in milliseconds. */
const ANSWER_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the gauges measure, read when Prosody collects. */
export interface Levels {
  /** Pushes awaiting the distributor's answer. */
  readonly inFlight: (this: void) => number;
  /** Messages and bytes stored for offline distributors. */
  readonly stored: (this: void) => LuaMultiReturn<[messages: number, bytes: number]>;
}

/** One line of `unified_push:stats()`: a name and its values in order. */
export interface Reading {
  readonly name: string;
  readonly values: readonly (readonly [label: string, value: number])[];
}

export interface Metrics {
  readonly pushes: Counts<PushOutcome>;
  /** From sending a push to the distributor's answer, for pushes it answered. */
  readonly answerTime: Timing;
  readonly registrations: Counts<RegistrationOutcome>;
  readonly revocations: Counts<RevocationReason>;
  readonly removed: Counts<RemovalReason>;
  /** Sets the gauges from `levels` (Prosody's stats-update). */
  update(this: void, levels: Levels): void;
  /**
   * The values now (gauges updated from `levels` first), for the admin shell;
   * undefined when Prosody keeps no statistics to read.
   */
  read(this: void, levels: Levels): Reading[] | undefined;
}

/** The counters of a family, one per label value, looked up now. */
function countersOf<K extends string>(
  family: Prosody.MetricFamily<Counter>,
  keys: readonly K[],
): { readonly [key in K]: Counter } {
  const counters = new LuaTable<K, Counter>();
  for (const key of keys) counters.set(key, family.with_labels(key));
  return counters as unknown as { readonly [key in K]: Counter };
}

/** The value of a metric's sample with this suffix (0 if it has none, as with statsd). */
function sampleOf(metric: Metric, suffix: string): number {
  for (const [name, , value] of metric.iter_samples()) {
    if (name === suffix) return value;
  }
  return 0;
}

function reading<K extends string>(
  name: string,
  keys: readonly K[],
  counters: { readonly [key in K]: Counter },
): Reading {
  const values: (readonly [string, number])[] = [];
  for (const key of keys) values.push([key, sampleOf(counters[key], "_total")]);
  return { name, values };
}

/**
 * Declares every metric of the module (once per host it is loaded on).
 * `statisticsOn` says whether Prosody keeps statistics (core.statsmanager has a
 * registry); without them the metrics record nothing and have nothing to read.
 */
export function declareMetrics(
  module: Prosody.Module,
  statisticsOn: (this: void) => boolean,
): Metrics {
  const counter = (name: string, description: string, label: string) =>
    module.metric("counter", name, "", description, [label]);
  const gauge = (name: string, unit: string, description: string) =>
    module.metric("gauge", name, unit, description, []).with_labels();

  const pushes = countersOf(
    counter("pushes", "Pushes to endpoints, by what became of them", "outcome"),
    PUSH_OUTCOMES,
  );
  const answerTime: Histogram = module
    .metric(
      "histogram",
      "push_answer",
      "seconds",
      "Time from sending a push to the distributor's answer",
      [],
      { buckets: ANSWER_BUCKETS },
    )
    .with_labels();
  const registrations = countersOf(
    counter("registrations", "Registration requests, by outcome", "outcome"),
    REGISTRATION_OUTCOMES,
  );
  const revocations = countersOf(
    counter("revocations", "Endpoints revoked, by reason", "reason"),
    REVOCATION_REASONS,
  );
  const removed = countersOf(
    counter("stored_messages_removed", "Stored messages removed, by reason", "reason"),
    REMOVAL_REASONS,
  );
  const inFlight: Gauge = gauge("pushes_in_flight", "", "Pushes awaiting the distributor's answer");
  const storedMessages: Gauge = gauge(
    "stored_messages",
    "",
    "Messages stored for offline distributors",
  );
  const storedBytes: Gauge = gauge(
    "stored",
    "bytes",
    "Bytes of messages stored for offline distributors",
  );

  function update(this: void, levels: Levels): void {
    inFlight.set(levels.inFlight());
    const [messages, bytes] = levels.stored();
    storedMessages.set(messages);
    storedBytes.set(bytes);
  }

  return {
    pushes,
    answerTime,
    registrations,
    revocations,
    removed,
    update,
    read(levels) {
      // Without statistics every metric is a stand-in with nothing to read.
      if (!statisticsOn()) return undefined;
      update(levels);
      return [
        reading("pushes", PUSH_OUTCOMES, pushes),
        {
          name: "push_answer",
          values: [
            ["count", sampleOf(answerTime, "_count")],
            ["sum", sampleOf(answerTime, "_sum")],
          ],
        },
        reading("registrations", REGISTRATION_OUTCOMES, registrations),
        reading("revocations", REVOCATION_REASONS, revocations),
        { name: "pushes_in_flight", values: [["pushes", sampleOf(inFlight, "")]] },
        {
          name: "stored",
          values: [
            ["messages", sampleOf(storedMessages, "")],
            ["bytes", sampleOf(storedBytes, "")],
          ],
        },
        reading("stored_messages_removed", REMOVAL_REASONS, removed),
      ];
    },
  };
}
