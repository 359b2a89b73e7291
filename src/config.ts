// The module's configuration (docs/design.md, "Options"), read and validated once at
// load, and the checks before the module's first hook (options, HTTP routes).
import { prep } from "util.jid";
import { OptionSource, optionReader } from "./options";
import { MAX_BODY_BYTES } from "./protocol";
import { Claimed, claimHttp, Problems, refuseToLoad } from "./startup";

export type BackendName = "paseto" | "storage" | "jwt";
const ALL_BACKENDS: readonly BackendName[] = ["paseto", "storage", "jwt"];

export interface Config {
  /** Domains and bare JIDs allowed to register. */
  readonly acl: readonly string[];
  readonly backend: BackendName;
  /** Lifetime of a registration (and so of its endpoint), seconds. */
  readonly registrationTtl: number;
  /** HS256 secret of the jwt backend. */
  readonly secret: string | undefined;
  /** How long to wait for the distributor to answer a push, seconds. */
  readonly iqTimeout: number;
  /**
   * How long an app server waits for the distributor's answer to a push that
   * can be kept, seconds: unanswered by then, it is kept and answered 201.
   */
  readonly answerWindow: number;
  /** Pushes per second one endpoint may sustain, and how many may come at once. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  /** Pushes one user's distributors may have unanswered at once. */
  readonly maxInFlight: number;
  /** Apps (application, instance pairs) one user may have registered at once. */
  readonly maxRegistrations: number;
  /** Longest a push for an offline distributor is kept, seconds; 0 keeps none. */
  readonly messageTtl: number;
  /** Messages, and bytes of them, kept for one user's offline distributors. */
  readonly maxStoredMessages: number;
  readonly maxStoredBytes: number;
  /** Messages kept for one endpoint (one app), so one app cannot fill its user's room. */
  readonly maxStoredPerEndpoint: number;
  /** Serve the Matrix push gateway (/_matrix/push/v1/notify) next to the endpoints. */
  readonly matrixGateway: boolean;
  /**
   * Endpoints remembered in memory (a resolved token and a rate bucket each,
   * about 1.2 KB): pushes to more endpoints than this in turn miss the cache.
   */
  readonly endpointCache: number;
  /** Users the hourly purge and the count at load visit per timer tick at most. */
  readonly purgeSlice: number;
  /** Seconds registrations wait in the journal before they reach their stores (journal.ts). */
  readonly journalDelay: number;
}

/** What the running Prosody and host offer, detected by the caller. */
export interface ConfigContext {
  readonly host: string;
  readonly isComponent: boolean;
  /** Backends this Prosody supports, preferred first. */
  readonly backends: readonly BackendName[];
}

const DAY = 86400;
/** HS256 needs a secret with real entropy; `openssl rand -base64 32` gives 44 characters. */
const MIN_SECRET_LENGTH = 16;

/** A component's users live on its parent domain: push.example.com -> example.com. */
function defaultAclEntry(context: ConfigContext): string {
  if (!context.isComponent) return context.host;
  const [parent] = string.match(context.host, "^[^.]+%.(.+)$");
  return parent ?? context.host;
}

/**
 * Reads and checks every option. A host with wrong options gets all of their
 * problems at once, one line each, and no configuration.
 */
export function readConfig(
  read: OptionSource,
  context: ConfigContext,
): LuaMultiReturn<[config: Config, problems: undefined] | [config: undefined, problems: string[]]> {
  const options = optionReader(read);
  const acl: string[] = [];
  for (const entry of options.list("unified_push_acl", [defaultAclEntry(context)])) {
    const normalised = prep(entry);
    // prep() accepts spaces in domains; a resource would never match a sender.
    if (normalised === undefined || string.find(normalised, "[%s/]")[0] !== undefined) {
      options.refuse(`option unified_push_acl must list domains or bare JIDs (got "${entry}")`);
    } else {
      acl.push(normalised);
    }
  }

  const requested = read("unified_push_backend");
  let backend = context.backends[0] ?? "storage";
  if (
    ALL_BACKENDS.includes(requested as BackendName) &&
    !context.backends.includes(requested as BackendName)
  ) {
    options.refuse(
      `option unified_push_backend: "${requested as string}" is not supported by this Prosody ` +
        `(supported here: ${context.backends.join(", ")})`,
    );
  } else {
    // An unknown name is answered with what works on this Prosody.
    backend = options.choice("unified_push_backend", context.backends, backend);
  }

  const secret = options.string("unified_push_secret");
  if (backend === "jwt") {
    if (secret === undefined) {
      options.refuse(
        'option unified_push_secret is required by unified_push_backend = "jwt" ' +
          "(generate one with: openssl rand -base64 32)",
      );
    } else if (secret.length < MIN_SECRET_LENGTH) {
      options.refuse(
        `option unified_push_secret must be at least ${MIN_SECRET_LENGTH} characters ` +
          "(generate one with: openssl rand -base64 32)",
      );
    }
  }

  const config: Config = {
    acl,
    backend,
    secret,
    registrationTtl: options.integer("unified_push_registration_ttl", DAY, 1, 365 * DAY),
    iqTimeout: options.integer("unified_push_iq_timeout", 20, 1, 300),
    answerWindow: options.integer("unified_push_answer_window", 2, 1, 5),
    rateLimit: options.integer("unified_push_rate_limit", 10, 1, 1000000),
    rateBurst: options.integer("unified_push_rate_burst", 100, 1, 1000000),
    maxInFlight: options.integer("unified_push_max_in_flight", 64, 1, 1000000),
    maxRegistrations: options.integer("unified_push_max_registrations", 100, 1, 1000000),
    messageTtl: options.integer("unified_push_message_ttl", DAY, 0, 30 * DAY),
    maxStoredMessages: options.integer("unified_push_max_stored_messages", 1000, 1, 1000000),
    maxStoredBytes: options.integer(
      "unified_push_max_stored_bytes",
      1048576,
      MAX_BODY_BYTES,
      1073741824,
    ),
    maxStoredPerEndpoint: options.integer("unified_push_max_stored_per_endpoint", 250, 1, 1000000),
    matrixGateway: options.boolean("unified_push_matrix_gateway", true),
    endpointCache: options.integer("unified_push_endpoint_cache", 32768, 1, 10000000),
    purgeSlice: options.integer("unified_push_purge_slice", 500, 1, 100000),
    journalDelay: options.integer("unified_push_journal_delay", 10, 0, 3600),
  };
  if (options.problems.length > 0) return $multi(undefined, options.problems);
  return $multi(config, undefined);
}

/** What the checks before the first hook leave for the rest of the load. */
export interface Checked {
  readonly config: Config;
  readonly claimed: Claimed;
  readonly isComponent: boolean;
  /** Stops loading on this host, each problem on a line of its own and no traceback. */
  readonly stop: (this: void, problems: Problems) => never;
}

/**
 * Reads the options (`backends`: those this Prosody supports) and claims the
 * HTTP routes (the gateway's at `gatewayPath`), or stops the load. Every check
 * that can stop it comes before the first hook: Prosody 0.12 leaves a failed
 * module's hooks in place.
 */
export function checkBeforeHooks(
  module: Prosody.Module,
  gatewayPath: string,
  backends: readonly BackendName[],
): Checked {
  const isComponent = module.get_host_type() === "component";
  const stop = (problems: Problems): never =>
    refuseToLoad((line) => module.log("error", "%s", line), module.host, problems);
  const [config, problems] = readConfig((name) => module.get_option(name), {
    host: module.host,
    isComponent,
    backends,
  });
  if (config === undefined) return stop(problems);
  const claimed = claimHttp(module, config.matrixGateway ? gatewayPath : undefined, stop);
  return { config, claimed, isComponent, stop };
}
