// What the module says and checks as it starts on a host (docs/design.md,
// "Startup"): who it is and where it serves, the options it refuses, and the
// deployments whose HTTP routes would collide with another instance's.

/** What the module's load did not survive: one line each, already worded for the operator. */
export type Problems = readonly string[];

/**
 * Stops loading the module on this host after logging each problem on a line of
 * its own. Prosody's module loader runs the module under xpcall with
 * debug.traceback, which appends a traceback to a string error but passes any
 * other value through: a table with a __tostring gives one line and no traceback.
 */
export function refuseToLoad(
  log: (this: void, line: string) => void,
  host: string,
  problems: Problems,
): never {
  for (const problem of problems) log(problem);
  const summary = `not loaded on ${host}: ${problems.length === 1 ? "the problem" : `the ${problems.length} problems`} logged above`;
  return error(setmetatable({}, { __tostring: () => summary }), 0);
}

/** Where one instance of the module serves HTTP, shared between instances. */
export interface HttpClaim {
  /** The Prosody host the instance runs on. */
  readonly host: string;
  /** The HTTP host its routes are registered for (`http_host`, else the host). */
  readonly httpHost: string;
  /** The paths of its endpoints and of its Matrix push gateway (undefined when off). */
  readonly pushPath: string;
  readonly matrixPath: string | undefined;
}

/**
 * An app's path as mod_http makes it: `http_paths[app]` of the host, else of the
 * global section, else the default; with a leading and no trailing slash, `$host`
 * replaced by the host.
 */
export function appPath(
  httpPaths: readonly unknown[],
  app: string,
  fallback: string,
  host: string,
): string {
  let path = fallback;
  for (const paths of httpPaths) {
    const configured =
      type(paths) === "table" ? (paths as LuaTable<string, unknown>).get(app) : undefined;
    if (type(configured) === "string") {
      path = configured as string;
      break;
    }
  }
  if (string.sub(path, 1, 1) !== "/") path = `/${path}`;
  if (path.length > 1 && string.sub(path, -1) === "/") path = string.sub(path, 1, -2);
  return string.gsub(path, "%$host", () => host)[0];
}

export interface ClaimOutcome {
  /** Why the instance must not load: its endpoints' routes belong to another. */
  readonly refusal?: string | undefined;
  /** Why it serves no Matrix push gateway: another instance serves it on the same HTTP host. */
  readonly noGateway?: string | undefined;
}

/**
 * Checks a new instance's routes against those of the instances already loaded.
 * Two instances with the same endpoint routes cannot both work (mod_http gives
 * every request to one of them, so the other's endpoints answer 404): the later
 * one is refused. A second Matrix gateway on an HTTP host would never be asked:
 * the later one goes without it.
 */
export function checkClaim(others: readonly HttpClaim[], mine: HttpClaim): ClaimOutcome {
  let noGateway: string | undefined;
  for (const other of others) {
    if (other.host === mine.host || other.httpHost !== mine.httpHost) continue;
    if (other.pushPath === mine.pushPath) {
      return {
        refusal:
          `mod_unified_push on ${other.host} already serves ${mine.pushPath} on HTTP host ${mine.httpHost}, ` +
          `so its endpoints would answer 404 on ${mine.host}: enable the module on only one of ` +
          `${other.host} and ${mine.host} (a component with http_host = "${mine.httpHost}" replaces it on ` +
          `that VirtualHost), or give one of them its own path with http_paths = { push = "/push-$host" }`,
      };
    }
    if (mine.matrixPath !== undefined && other.matrixPath === mine.matrixPath) {
      noGateway =
        `the Matrix push gateway of ${other.host} already serves ${mine.matrixPath} on HTTP host ` +
        `${mine.httpHost}, so ${mine.host} serves none: set unified_push_matrix_gateway = false on ` +
        `${mine.host} or ${other.host}`;
    }
  }
  return { noGateway };
}

/** The host of an http(s) URL, lowercased; undefined when it has none. */
function hostOf(url: string): string | undefined {
  const [host] = string.match(url, "^%a[%w+.-]*://%[?([^/:%]?#]+)");
  return host === undefined ? undefined : string.lower(host);
}

/** What decides which HTTP host answers a request, as Prosody routes it (by `Host`). */
export interface Routing {
  /** The endpoints' URL as published (after http_external_url). */
  readonly pushUrl: string;
  /** The HTTP host the routes are registered for. */
  readonly httpHost: string;
  /** Whether Prosody serves a host of that name (a VirtualHost or Component). */
  readonly isProsodyHost: (this: void, host: string) => boolean;
  /** `http_default_host`: where requests for names Prosody does not serve go. */
  readonly defaultHost: string | undefined;
}

/**
 * Why requests to the published URL may not reach the endpoints, or undefined.
 * Prosody routes HTTP by `Host`: a request for another of its hosts goes to that
 * host's apps, one for a name it does not serve to http_default_host or nowhere
 * ("Unknown host"). A reverse proxy may still send the right `Host`, so this is a
 * warning, not a refusal.
 */
export function externalUrlProblem(routing: Routing): string | undefined {
  const published = hostOf(routing.pushUrl);
  const served = string.lower(routing.httpHost);
  if (published === undefined || published === served) return undefined;
  const isServed = routing.isProsodyHost(published);
  if (
    !isServed &&
    routing.defaultHost !== undefined &&
    string.lower(routing.defaultHost) === served
  ) {
    return undefined;
  }
  const fate = isServed ? `go to ${published}'s HTTP apps` : `get "Unknown host"`;
  return (
    `endpoints are published under ${routing.pushUrl} (http_external_url) but served for HTTP host ` +
    `${served}: requests reaching Prosody with Host: ${published} ${fate} and answer 404. ` +
    `Set http_external_url in this host's section rather than globally, have your reverse proxy ` +
    `send Host: ${served}` +
    (isServed ? "" : `, or set http_default_host = "${served}"`)
  );
}

/** The one info line an instance logs when it is ready. */
export function announcement(
  version: string,
  host: string,
  backend: string,
  pushUrl: string,
  matrixUrl: string | undefined,
): string {
  const gateway =
    matrixUrl === undefined ? "no Matrix push gateway" : `Matrix push gateway ${matrixUrl}`;
  return `mod_unified_push ${version} on ${host}: ${backend} backend, endpoints under ${pushUrl}/, ${gateway}`;
}

/** This instance's claim on its HTTP routes (checkClaim), in the claims its instances share. */
export interface Claimed {
  /** The HTTP host its routes are registered for. */
  readonly httpHost: string;
  /** Whether it serves the Matrix push gateway. */
  readonly servesGateway: boolean;
  /** Makes the claim seen by later instances, once the routes are in place. */
  readonly publish: (this: void) => void;
  /** Takes the claim back (on unload). */
  readonly release: (this: void) => void;
}

/**
 * Where this instance serves HTTP, checked against the other instances
 * (docs/design.md, "Startup"): `stop` when its endpoints' routes are taken, no
 * gateway (and a warning) when the gateway's are.
 */
export function claimHttp(
  module: Prosody.Module,
  gatewayPath: string | undefined,
  stop: (this: void, problems: Problems) => never,
): Claimed {
  const httpPaths = [module.get_option("http_paths"), module.context("*").get_option("http_paths")];
  const httpHost = module.get_option("http_host") ?? module.host;
  const claims = module.shared(`/*/${module.name}/http`) as unknown as LuaTable<string, HttpClaim>;
  const others: HttpClaim[] = [];
  for (const [, claim] of claims) others.push(claim);
  const wanted: HttpClaim = {
    host: module.host,
    httpHost: type(httpHost) === "string" ? (httpHost as string) : module.host,
    pushPath: appPath(httpPaths, "push", "/push", module.host),
    matrixPath:
      gatewayPath === undefined
        ? undefined
        : appPath(httpPaths, "matrix_push_gateway", gatewayPath, module.host),
  };
  const { refusal, noGateway } = checkClaim(others, wanted);
  if (refusal !== undefined) stop([refusal]);
  if (noGateway !== undefined) module.log("warn", "%s", noGateway);
  const servesGateway = wanted.matrixPath !== undefined && noGateway === undefined;
  return {
    httpHost: wanted.httpHost,
    servesGateway,
    publish: () =>
      claims.set(module.host, {
        ...wanted,
        matrixPath: servesGateway ? wanted.matrixPath : undefined,
      }),
    release: () => claims.delete(module.host),
  };
}

/**
 * Logs who is serving where once mod_http knows its ports (at server start, or
 * now on a later load), and warns when the published URL will not reach it.
 */
export function announceWhenReady(
  module: Prosody.Module,
  version: string,
  backend: string,
  claimed: Claimed,
  pushUrl: (this: void) => string,
  gatewayPath: string,
): void {
  const ready = () => {
    const url = pushUrl();
    const matrixUrl = claimed.servesGateway
      ? module.http_url("matrix_push_gateway", gatewayPath)
      : undefined;
    module.log("info", "%s", announcement(version, module.host, backend, url, matrixUrl));
    const defaultHost = module.get_option("http_default_host");
    const problem = externalUrlProblem({
      pushUrl: url,
      httpHost: claimed.httpHost,
      isProsodyHost: (host) => prosody.hosts[host] !== undefined,
      defaultHost: type(defaultHost) === "string" ? (defaultHost as string) : undefined,
    });
    if (problem !== undefined) module.log("warn", "%s", problem);
  };
  // prosody.start_time is set once every host has loaded its modules at start.
  if (prosody.start_time === undefined) module.hook_global("server-started", ready);
  else ready();
}
