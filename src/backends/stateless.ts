// The stateless backends (jwt, paseto): the registration travels inside the
// token. What they share: shape and expiry checks on the decoded claims, and
// the revocation list that stands in for deleting a record.
import { asRegistration, Backend, Registration, tokenKey } from "./backend";
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
  /** Whether the token is spelled exactly as this codec issues tokens (Backend.wellFormed). */
  wellFormed(this: void, token: string): boolean;
}

export function statelessBackend(codec: TokenCodec, revocations: RevocationList): Backend {
  return {
    name: codec.name,
    wellFormed: codec.wellFormed,
    issue: codec.encode,
    open(token) {
      if (!codec.wellFormed(token)) return $multi(undefined, "invalid");
      const claims = asRegistration(codec.decode(token));
      if (claims === undefined) return $multi(undefined, "invalid");
      if (revocations.isRevoked(token)) return $multi(undefined, "revoked");
      return $multi(claims, undefined);
    },
    revoke(token, exp, now) {
      return revocations.revoke(tokenKey(token), exp, now);
    },
    revokeKey: revocations.revoke,
    dropRecord() {
      // Nothing is stored per token.
    },
  };
}
