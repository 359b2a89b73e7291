// The bench's knobs, read once from BENCH_* environment variables or --flags
// (`--duration 4` and BENCH_DURATION=4 mean the same; flags win).
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

/**
 * Limits raised so the bench measures relay capacity.
 *
 * The module's abuse limits (per-endpoint and per-source rate limits, caps on
 * in-flight pushes and on registrations per user; docs/design.md, "Limits") would, at their
 * defaults, turn a benchmark into a test of the limits. Every option that limits
 * abuse goes here, raised far above what the bench sends, and is written into
 * the configuration of BOTH modules (the reference ignores options it does not
 * know). results.md repeats this list. Add each new limit as it lands.
 */
export const RELAY_CAPACITY_OPTIONS = {
  unified_push_rate_limit: 1000000, // pushes/s per endpoint (default 10)
  unified_push_rate_burst: 1000000, // burst per endpoint (default 100)
  unified_push_max_in_flight: 1000000, // unanswered pushes per distributor (default 64)
  unified_push_max_registrations: 1000000, // registrations per user (default 100)
  unified_push_max_stored_messages: 1000000, // messages kept per user (default 1000)
  unified_push_max_stored_bytes: 1073741824, // bytes kept per user (default 1 MiB)
  unified_push_max_stored_per_endpoint: 1000000, // messages kept per endpoint (default 250)
};

/** Backends per environment, as each Prosody supports them (paseto needs 13). */
export const BACKENDS = {
  "prosody-0.12": ["storage", "jwt"],
  "prosody-13": ["paseto", "storage", "jwt"],
};

/** HS256 secret for the jwt backend (both modules read unified_push_secret). */
export const JWT_SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/** The reference module, inside the environments (Debian's prosody-modules). */
export const REFERENCE_MODULE = "/usr/lib/prosody/modules/mod_unified_push/mod_unified_push.lua";

const DEFAULTS = {
  envs: "prosody-0.12,prosody-13",
  backends: "", // empty: every backend the environment supports
  rounds: 3, // alternating rounds per module (each round: every concurrency)
  duration: 4, // measured seconds per concurrency and round
  warmup: 1, // seconds of load before each measurement, not counted
  concurrency: "1,64,512,2000",
  users: 100, // connected distributors (one account, one connection each)
  endpoints: 5, // registrations per user: the load is spread over users*endpoints
  body: 200, // bytes per push
  registrationWindow: 64, // registrations in flight at once
  memoryPushes: 100000, // pushes between the two memory readings
  memoryConcurrency: 64,
  warmupPushes: 5000, // pushes before the first memory reading
  allocPushes: 5000, // pushes with the collector stopped, to weigh what one allocates
  keptPushes: 10000, // pushes kept for offline distributors, then sent on their return (0: skip)
  afterBurst: true, // run concurrency 64 again after the highest one, on the same server
  ceiling: true, // measure the trivial-route ceiling (first backend of each env)
  logLevel: "info", // Prosody's log level during the bench (debug costs a lot)
  gc: "", // Prosody's `gc` option, a Lua table; empty: Prosody's default collector settings
  // A second collector setting, measured for each version's default backend; empty: none
  gcAlternative: '{ mode = "generational" }',
  drain: 15, // seconds to wait for requests in flight at the end of a run
  quietWait: 30, // seconds to wait before a run for the rest of the machine to go quiet
  quietThreshold: 0.15, // "quiet": other processes use less than this share of a core
  profile: "", // "lua" to sample Lua stacks in Prosody during one extra run
  profileConcurrency: 64, // concurrency of that extra run
  storm: 1000, // distributors in the reconnect storm (0: skip it)
  stormEndpoints: 5, // endpoints each of them registers, then renews at once in the storm
  scale: 100000, // users written straight into the stores for the scale phase (0: skip it)
  scaleOnly: false, // only the scale phase
  scaleModule: "", // the scale phase measures this module file (inside the env) instead of ours
  out: BENCH_DIR, // where results.{md,json,png} go
};

function parseFlags(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`bench: unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split("=", 2);
    const key = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (inline !== undefined) flags[key] = inline;
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) flags[key] = argv[++i];
    else flags[key] = "true";
  }
  return flags;
}

function envName(key) {
  return "BENCH_" + key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
}

function coerce(key, raw) {
  const fallback = DEFAULTS[key];
  if (typeof fallback === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`bench: ${key} must be a number`);
    return n;
  }
  if (typeof fallback === "boolean") return !["0", "false", "no", "off"].includes(raw);
  return raw;
}

const list = (text) =>
  String(text)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** The bench configuration: defaults, then BENCH_* variables, then --flags. */
export function readConfig(argv = process.argv.slice(2)) {
  const flags = parseFlags(argv);
  const config = {};
  for (const key of Object.keys(DEFAULTS)) {
    const raw = flags[key] ?? process.env[envName(key)];
    config[key] = raw === undefined ? DEFAULTS[key] : coerce(key, raw);
  }
  for (const key of Object.keys(flags)) {
    if (!(key in DEFAULTS)) throw new Error(`bench: unknown option --${key}`);
  }
  config.envs = list(config.envs);
  config.backends = list(config.backends);
  config.concurrency = list(config.concurrency).map(Number);
  for (const env of config.envs) {
    if (!BACKENDS[env]) throw new Error(`bench: unknown environment ${env}`);
  }
  if (config.rounds < 1) throw new Error("bench: rounds must be at least 1");
  return config;
}

export const DEFAULT_CONFIG = DEFAULTS;
export { envName };
