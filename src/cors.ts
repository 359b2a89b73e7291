// CORS for the push endpoints, so app servers running in a browser can POST
// (docs/design.md, "HTTP semantics"). mod_http would do it, with the same options
// and defaults as here, but it formats its header lists into strings again for
// every request, and sends them whether or not the request came from a browser:
// on the push path that was the largest cost beyond the relay floor
// (bench/README.md, "Where ours differs from the floor"). Here the answers are
// made once at load, and only requests with an Origin (browsers send one) or a
// preflight get them.
import { HttpCorsOptions, HttpResponseHeaders } from "net.http.server";

/** mod_http's default for access_control_max_age: two hours. */
const DEFAULT_MAX_AGE = 7200;

/** mod_http's CORS options, as the operator set them (or their defaults). */
export interface CorsSettings {
  /** access_control_allow_methods */
  readonly methods: readonly string[];
  /** access_control_allow_headers */
  readonly headers: readonly string[];
  /** access_control_allow_origins (none, or "*": any origin) */
  readonly origins: readonly string[];
  /** access_control_allow_credentials */
  readonly credentials: boolean;
  /** access_control_max_age, seconds */
  readonly maxAge: number;
  /** This app's entry of http_cors_override, if any. */
  readonly override: CorsOverride | undefined;
}

/** An http_cors_override entry: operators may leave any field out. */
export type CorsOverride = Partial<HttpCorsOptions>;

export interface Cors {
  /** Adds the CORS headers for a request from `origin` (undefined: none sent). */
  readonly allow: (this: void, origin: string | undefined, headers: HttpResponseHeaders) => void;
}

/** The origins allowed, as a lookup table; undefined when any origin is. */
function allowedOrigins(
  origins: string | readonly string[] | undefined,
): LuaTable<string, true> | undefined {
  if (origins === undefined || origins === "*") return undefined;
  const allowed = new LuaTable<string, true>();
  let any = true;
  for (const origin of origins as readonly string[]) {
    if (origin === "*") return undefined;
    allowed.set(origin, true);
    any = false;
  }
  return any ? undefined : allowed;
}

/**
 * A header value listing `base` and then the names `changes` maps to true, each
 * once, leaving out those it maps to false.
 */
function joined(base: readonly string[], changes: { readonly [name: string]: boolean }): string {
  const names: string[] = [];
  const listed = new LuaTable<string, true>();
  const add = (name: string) => {
    if (changes[name] === false || listed.has(name)) return;
    listed.set(name, true);
    names.push(name);
  };
  for (const name of base) add(name);
  for (const name in changes) if (changes[name]) add(name);
  return names.join(", ");
}

/**
 * The CORS answers of an app with these route methods and this `cors` field, as
 * mod_http works them out (the operator's http_cors_override entry replaces the
 * app's field); undefined when CORS is off for it.
 */
export function corsFor(
  settings: CorsSettings,
  routeMethods: readonly string[],
  app: HttpCorsOptions,
): Cors | undefined {
  const cors = settings.override ?? app;
  if (cors.enabled === false) return undefined;
  // Only an entry that says enabled = true changes anything (mod_http's rule).
  const chosen = cors.enabled === true ? cors : {};
  const routes: { [method: string]: boolean } = {};
  for (const method of routeMethods) routes[method] = true;
  const methodsText = joined(settings.methods, routes);
  const headersText = joined(settings.headers, chosen.headers ?? {});
  const credentials = chosen.credentials ?? settings.credentials;
  const allowed = allowedOrigins(chosen.origins ?? settings.origins);
  const maxAgeText = tostring(settings.maxAge);
  return {
    allow(origin, response) {
      // The answer depends on the Origin (it is echoed, or left out for one not
      // listed): a shared cache must not hand it to another origin (Fetch, "CORS
      // protocol and HTTP caches").
      if (origin !== undefined) response.vary = "Origin";
      if (allowed !== undefined && (origin === undefined || allowed.get(origin) === undefined)) {
        return;
      }
      response.access_control_allow_methods = methodsText;
      response.access_control_allow_headers = headersText;
      response.access_control_max_age = maxAgeText;
      response.access_control_allow_origin = origin ?? "*";
      if (credentials) response.access_control_allow_credentials = "true";
    },
  };
}

/** mod_http's CORS options as it reads them, with this app's http_cors_override entry. */
export function corsSettings(module: Prosody.Module, app: string): CorsSettings {
  const list = (name: string, fallback: readonly string[]): string[] => {
    const items: string[] = [];
    for (const [item] of module.get_option_set(name, fallback).items()) items.push(tostring(item));
    return items;
  };
  const overrides = module.get_option("http_cors_override") as
    { readonly [app: string]: CorsOverride | undefined } | undefined;
  return {
    methods: list("access_control_allow_methods", ["GET", "OPTIONS"]),
    headers: list("access_control_allow_headers", ["Content-Type"]),
    origins: list("access_control_allow_origins", []),
    credentials: module.get_option_boolean("access_control_allow_credentials", false) === true,
    // Prosody 13 takes a period ("2 hours"), 0.12 a number of seconds.
    maxAge:
      (module.get_option_period === undefined
        ? module.get_option_number("access_control_max_age", DEFAULT_MAX_AGE)
        : module.get_option_period("access_control_max_age", DEFAULT_MAX_AGE)) ?? DEFAULT_MAX_AGE,
    override: overrides?.[app],
  };
}

/** A do-nothing event handler, for mod_http to unhook (below). */
function nothing(this: void): void {}

/** What Prosody 0.12's mod_http keeps per route of an app, in its host environment's `apps`. */
interface ModHttpRoute {
  cors?: unknown;
  options?: unknown;
}

/**
 * Prosody 0.12's mod_http removes an app (when the module unloads or reloads) by
 * unhooking its CORS and preflight handlers even when it never added them, as
 * with CORS off, and fails on the missing ones (13 checks first): the module
 * could not be unloaded or reloaded. Giving each route a do-nothing handler of
 * both kinds to unhook lets mod_http remove the app cleanly. Call it right after
 * module:provides("http", app).
 */
export function letModHttpRemoveApp(host: string, app: string): void {
  const session = prosody.hosts[host] as unknown as
    { readonly modules?: { readonly http?: { readonly apps?: unknown } } } | undefined;
  const apps = session?.modules?.http?.apps as
    { readonly [app: string]: { readonly [event: string]: ModHttpRoute } | undefined } | undefined;
  const routes = apps?.[app];
  if (routes === undefined) return;
  for (const event in routes) {
    const route = routes[event];
    route.cors ??= nothing;
    route.options ??= nothing;
  }
}
