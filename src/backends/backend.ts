// What every registration backend provides (SPEC §4). A backend turns a
// registration into an opaque token for the endpoint URL, and a token back into
// the registration while it is valid.

/** One registration, as bound by the registration IQ. Field names match the
 * reference module's records and token claims, so its endpoints keep working. */
export interface Registration {
  /** The distributor's full JID. */
  readonly sub: string;
  readonly application: string;
  readonly instance: string;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
}

/** Why a token does not resolve. "failed" is our own fault (storage down). */
export type ResolveFailure = "invalid" | "expired" | "failed";

export interface Backend {
  readonly name: string;
  /** A token for the registration, or undefined and why not. */
  issue(
    this: void,
    registration: Registration,
  ): LuaMultiReturn<[token: string, reason: undefined] | [token: undefined, reason: string]>;
  /** The registration a token names, if it is genuine and not expired at `now`. */
  resolve(
    this: void,
    token: string,
    now: number,
  ): LuaMultiReturn<
    | [registration: Registration, failure: undefined]
    | [registration: undefined, failure: ResolveFailure]
  >;
}

/** Checks a decoded token payload or stored record has the registration's shape. */
export function asRegistration(value: unknown): Registration | undefined {
  if (type(value) !== "table") return undefined;
  const r = value as Record<string, unknown>;
  if (
    type(r.sub) !== "string" ||
    type(r.application) !== "string" ||
    type(r.instance) !== "string" ||
    type(r.exp) !== "number"
  ) {
    return undefined;
  }
  return r as unknown as Registration;
}
