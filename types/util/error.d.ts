/** @noSelfInFile */

/**
 * util.error: structured error objects, and per-module registries of them.
 * Same API in Prosody 0.12 and 13 (`is_err` is a 0.12 alias kept in 13).
 */
/** @noResolution */
declare module "util.error" {
  import type { Stanza } from "util.stanza";

  /** Stanza error types (RFC 6120 §8.3.2). */
  export type ErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

  /** Defined stanza error conditions (RFC 6120 §8.3.3). */
  export type ErrorCondition =
    | "bad-request"
    | "conflict"
    | "feature-not-implemented"
    | "forbidden"
    | "gone"
    | "internal-server-error"
    | "item-not-found"
    | "jid-malformed"
    | "not-acceptable"
    | "not-allowed"
    | "not-authorized"
    | "policy-violation"
    | "recipient-unavailable"
    | "redirect"
    | "registration-required"
    | "remote-server-not-found"
    | "remote-server-timeout"
    | "resource-constraint"
    | "service-unavailable"
    | "subscription-required"
    | "undefined-condition"
    | "unexpected-request";

  /** Extra data carried into an error reply: an application condition, a URI, or a tag. */
  export interface ErrorExtra {
    /** Namespace of an application-specific condition element. */
    readonly namespace?: string;
    /** Name of that application-specific condition element. */
    readonly condition?: string;
    /** Text of a `gone` or `redirect` condition. */
    readonly uri?: string;
    /** An application-specific child taken from a received error stanza. */
    readonly tag?: Stanza;
  }

  /** What a template or `new()` takes; missing fields default to cancel/undefined-condition. */
  export interface ErrorTemplate {
    readonly type?: ErrorType;
    readonly condition?: ErrorCondition;
    readonly text?: string;
    /** HTTP status used when the error is returned from an HTTP route handler. */
    readonly code?: number;
    readonly extra?: ErrorExtra;
  }

  /** Compact template: `[type, condition, text?, application condition?]`. */
  export type CompactErrorTemplate = readonly [
    type: ErrorType,
    condition: ErrorCondition,
    text?: string,
    app_condition?: string,
  ];

  /**
   * Context attached to an error. Errors made from a received stanza
   * (`from_stanza`, and so `module:send_iq()` rejections) carry `stanza` and `by`;
   * `send_iq` also passes the event, so `origin` is present there.
   */
  export interface ErrorContext {
    readonly [key: string]: unknown;
    readonly stanza?: Stanza;
    /** JID that generated the error. */
    readonly by?: string;
    /** The value `wrap()`/`coerce()` turned into this error. */
    readonly wrapped_error?: unknown;
  }

  /** An error object. `tostring(err)` gives `error<type:condition:text>`. */
  export interface ErrorObject {
    readonly instance_id: string;
    /** An ErrorType, except for errors made from a remote stanza, which may carry anything. */
    readonly type: ErrorType | (string & Record<never, never>);
    /** A defined condition, or whatever element name a remote error stanza used. */
    readonly condition: ErrorCondition | (string & Record<never, never>);
    readonly text?: string;
    readonly code?: number;
    readonly extra?: ErrorExtra;
    readonly context: ErrorContext;
    /** Registry source (usually the module name) for errors made by a registry. */
    readonly source?: string;
  }

  /** A registry made by `init()`; `K` are the registry's keys. */
  export interface ErrorRegistry<K extends string> {
    readonly source: string;
    readonly registry: { readonly [P in K]: ErrorTemplate };
    /** A new error from the template named `name`. */
    "new"(this: void, name: K, context?: { readonly [key: string]: unknown }): ErrorObject;
    /**
     * Returns error objects unchanged; otherwise makes one from the template named
     * `e`, or an undefined-condition error with `context.wrapped_error = e`.
     */
    wrap(this: void, e: unknown, context?: { readonly [key: string]: unknown }): ErrorObject;
    /**
     * Passes `(ok, ...)` through when `ok` is truthy, otherwise returns
     * `(nil, wrap(err))`. Note: unlike the library-level `coerce`, this wraps even
     * an `err` that already is an error object (`wrap` returns it unchanged).
     */
    coerce<T>(
      this: void,
      ok: T,
      err?: unknown,
    ): LuaMultiReturn<[ok: T, result: unknown] | [ok: undefined, err: ErrorObject]>;
    is_error(this: void, e: unknown): e is ErrorObject;
  }

  /** Makes an error from a template (or returns `e` if it already is an error object). */
  function new_(
    e: ErrorTemplate | ErrorObject,
    context?: { readonly [key: string]: unknown },
    registry?: { readonly [name: string]: ErrorTemplate },
    source?: string,
  ): ErrorObject;
  export { new_ as new };

  /** Creates a registry of named errors, usually once per module. */
  export function init<K extends string>(
    source: string,
    registry: { readonly [P in K]: ErrorTemplate | CompactErrorTemplate },
  ): ErrorRegistry<K>;
  /** As above; compact templates' 4th field becomes an element in `namespace`. */
  export function init<K extends string>(
    source: string,
    namespace: string,
    registry: { readonly [P in K]: ErrorTemplate | CompactErrorTemplate },
  ): ErrorRegistry<K>;

  export function is_error(e: unknown): e is ErrorObject;
  /** Older name of `is_error`, still present in 0.12 and 13. */
  export function is_err(e: unknown): e is ErrorObject;

  /**
   * Passes `(ok, err, ...)` through when `ok` is truthy or `err` already is an
   * error object; otherwise returns `ok` and an undefined-condition error wrapping `err`.
   */
  export function coerce<T>(ok: T, err?: unknown): LuaMultiReturn<[ok: T, err: unknown]>;

  /**
   * An error object from a stanza of type "error". On 0.12 this raises a Lua error
   * if the stanza has no `<error/>` child; 13 tolerates it.
   */
  export function from_stanza(
    stanza: Stanza,
    context?: { [key: string]: unknown },
    source?: string,
  ): ErrorObject;
}
