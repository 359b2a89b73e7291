// The stateless backends (jwt, paseto): the registration travels inside the
// token. What they share: shape and expiry checks on the decoded claims, and
// the revocation list that stands in for deleting a record.
import { asRegistration, Backend, Registration } from "./backend";
import { RevocationList } from "./revocation";

/** How one stateless backend turns claims into a token and back. */
export interface TokenCodec {
  readonly name: string;
  encode(
    this: void,
    claims: Registration,
  ): LuaMultiReturn<[token: string, reason: undefined] | [token: undefined, reason: string]>;
  /** The claims of a genuine token, else undefined (never raises). */
  decode(this: void, token: string): unknown;
}

export function statelessBackend(codec: TokenCodec, revocations: RevocationList): Backend {
  return {
    name: codec.name,
    issue: codec.encode,
    resolve(token, now) {
      const registration = asRegistration(codec.decode(token));
      if (registration === undefined) return $multi(undefined, "invalid");
      // Neither util.jwt (0.12) nor util.paseto checks expiry: it is ours to enforce.
      if (registration.exp < now) return $multi(undefined, "expired");
      if (revocations.isRevoked(token)) return $multi(undefined, "revoked");
      return $multi(registration, undefined);
    },
    revoke(token, registration, now) {
      return revocations.revoke(token, registration.exp, now);
    },
    dropExpired() {
      // Nothing is stored per token.
    },
  };
}
