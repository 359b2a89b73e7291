/** @noSelfInFile */

/**
 * net.http.server (served through mod_http): the request, response and event
 * objects HTTP route handlers see, the values they may return, and the
 * `module:provides("http", app)` item. Only types are declared.
 *
 * Handlers run inside an async runner (storage calls may block there).
 * @see https://prosody.im/doc/developers/http
 */
/** @noResolution */
declare module "net.http.server" {
  import type { ErrorObject } from "util.error";
  import type { Promise } from "util.promise";

  /**
   * Request headers: names lowercased with `-` turned into `_` (`content_type`,
   * `content_encoding`, `ttl`); repeated headers joined with `,`.
   */
  export interface HttpRequestHeaders {
    readonly [name: string]: string | undefined;
  }

  /**
   * Response headers: write lowercase names with `_` for `-` (`content_type`,
   * `retry_after`); they are sent as `Content-Type`, `Retry-After`. Pre-set:
   * `date`, `connection`, and on 13 `x_request_id`; `content_length` is computed.
   */
  export interface HttpResponseHeaders {
    [name: string]: string | undefined;
  }

  /** The request target as parsed (raw, not percent-decoded). */
  export interface HttpRequestUrl {
    readonly path: string;
    /** The query string without `?`; `undefined` when empty. */
    readonly query?: string;
    /** Only for absolute-form targets (`GET http://host/path`). */
    readonly scheme?: string;
    readonly host?: string;
    readonly port?: string;
  }

  /** The network connection of a request (opaque here). */
  export interface HttpConnection {
    ip(this: HttpConnection): string;
  }

  export interface HttpRequest {
    readonly method: string;
    /** Percent-decoded path with `//` collapsed (use `url.path` for the raw one). */
    readonly path: string;
    readonly url: HttpRequestUrl;
    /** `"1.0"` or `"1.1"`. */
    readonly httpversion: string;
    readonly headers: HttpRequestHeaders;
    /**
     * The whole body (`""` without one). mod_http only calls handlers of apps
     * without `streaming_uploads` once the body is complete. Chunked request
     * bodies are not supported: such a request arrives with an empty body.
     */
    readonly body: string;
    /** Client address; with a trusted proxy, the forwarded address. */
    readonly ip: string;
    /** `true` over TLS (or forwarded https from a trusted proxy). */
    readonly secure?: boolean;
    readonly conn: HttpConnection;
    /** Prosody 13 only: short request id, also sent as `X-Request-Id`. */
    readonly id?: string;
  }

  export interface HttpResponse {
    /** Defaults to 200. */
    status_code: number;
    /** Full status text (e.g. `"418 I'm a teapot"`) overriding the code's default. */
    status?: string;
    headers: HttpResponseHeaders;
    /** Body sent by `send()` without an argument. */
    body?: string;
    readonly request: HttpRequest;
    readonly conn: HttpConnection;
    readonly is_head_request: boolean;
    readonly persistent: boolean;
    /** Set once the response has been sent (or the client went away). */
    readonly finished?: boolean;
    /** Called with `:` when the response is finished or the client disconnects. */
    on_destroy?: (this: HttpResponse) => void;
    /**
     * Sends status, headers and `body` (default `response.body` or `""`) and
     * finishes. Needed only when the handler returned `true`; does nothing once
     * finished.
     */
    send(this: HttpResponse, body?: string): void;
    /** Sends only the status line and headers. */
    write_headers(this: HttpResponse): void;
    /** Finishes the response (closing a non-persistent connection). */
    done(this: HttpResponse): void;
    /** Prosody 13 only: the request id. */
    readonly id?: string;
  }

  /** The event a route handler receives. */
  export interface HttpEvent {
    readonly request: HttpRequest;
    readonly response: HttpResponse;
  }

  /** Fields copied onto the response (headers merged) when a handler returns a table. */
  export interface HttpResponseFields {
    readonly status_code?: number;
    readonly status?: string;
    readonly headers?: { readonly [name: string]: string };
    readonly body?: string;
  }

  /**
   * What a handler may return, handled the same way in 0.12 and 13:
   * - `undefined`: 404 (unless another handler answers);
   * - a number: that status, with an error page body when it is 400 or more;
   * - a string: the body, with `response.status_code`;
   * - a util.error object: status `code` (default 500), error page body;
   * - a table of response fields, sent as the response;
   * - `true`: the handler sends the response itself later (`response.send()`);
   * - `false`: sends the response as it stands (`response.body`, default empty).
   */
  export type HttpResult = number | string | boolean | ErrorObject | HttpResponseFields | undefined;

  /**
   * A handler's return value: an `HttpResult`, or a util.promise of one. A
   * rejected promise sets status 500 and handles the reason as a result: an error
   * object becomes an error page, but a string reason (such as the traceback of a
   * Lua error in a callback) is sent to the client as the body. End promise
   * chains with a `catch` that returns a status or error object.
   */
  export type HttpRouteResult = HttpResult | Promise<HttpResult>;

  /**
   * Handler for a route; called with `.`. Only wildcard routes pass a `path`
   * (see `HttpWildcardRouteHandler`); the rest parameter is there so that both
   * kinds fit the same route table.
   */
  export type HttpRouteHandler = (
    this: void,
    event: HttpEvent,
    ...path: string[]
  ) => HttpRouteResult;

  /**
   * Handler for a wildcard route (`"POST /*"`); `path` is the rest of the decoded
   * request path after the route's base, without a leading `/` (`""` for the base
   * itself followed by `/`). Called with `.`.
   */
  export type HttpWildcardRouteHandler = (
    this: void,
    event: HttpEvent,
    path: string,
  ) => HttpRouteResult;

  /**
   * Routes: keys are `"METHOD"`, `"METHOD /path"` or `"METHOD /prefix/*"`, relative
   * to the app's base path. A non-function value is returned as the result of
   * every request.
   */
  export interface HttpRoutes {
    readonly [route: `${string}/*`]: HttpWildcardRouteHandler | HttpResult;
    readonly [route: string]: HttpRouteHandler | HttpResult;
  }

  /**
   * CORS settings of an app. Without `enabled: true` the other fields are
   * ignored: `enabled: false` turns CORS off, and no `cors` field at all uses the
   * server's defaults (`http_default_cors_enabled`, `access_control_allow_*`).
   */
  export interface HttpCorsOptions {
    readonly enabled: boolean;
    readonly credentials?: boolean;
    /** Headers to add (`true`) to or remove (`false`) from the allowed set, e.g. `"Content-Encoding"`. */
    readonly headers?: { readonly [header: string]: boolean };
    /** Allowed origins, or `"*"`. */
    readonly origins?: "*" | readonly string[];
  }

  /** The item of `module:provides("http", app)` (mod_http, same in 0.12 and 13). */
  export interface HttpApp {
    /** App name; default the module name without `mod_`/`http_`. Paths are configurable per name via `http_paths`. */
    readonly name?: string;
    /** Base path; default `"/" + name`. */
    readonly default_path?: string;
    readonly route: HttpRoutes;
    readonly cors?: HttpCorsOptions;
  }

  /** What mod_http's `http-error` handler renders an error page from. */
  export interface HttpErrorEvent {
    readonly request: HttpRequest;
    readonly response: HttpResponse;
    readonly code: number;
    readonly error?: ErrorObject;
  }

  /**
   * Fires an event of the HTTP server's own event bus (0.12 and 13), where
   * mod_http renders error pages: `http-error` returns the body of the page a
   * handler's error result would have got.
   * @see https://prosody.im/doc/developers/http
   */
  export function fire_event(event: "http-error", payload: HttpErrorEvent): string | undefined;
}
