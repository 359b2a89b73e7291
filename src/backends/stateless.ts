// The stateless backends (jwt, paseto): the registration travels inside the
// token. What they share: shape and expiry checks on the decoded claims, and
// the revocation list that stands in for deleting a record.
import { asClaims, Backend, Claims, tokenKey, userClaims } from "./backend";
import { RevocationList } from "./revocation";

/** How one stateless backend turns claims into a token and back. */
export interface TokenCodec {
  readonly name: string;
  encode(
    this: void,
    claims: Claims,
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
    // Only the user: the index entry the registry keeps with the token says the
    // rest, and a short token is cheap on every request (docs/design.md).
    issue: (registration) => codec.encode(userClaims(registration)),
    open(token) {
      if (!codec.wellFormed(token)) return $multi(undefined, "invalid");
      const claims = asClaims(codec.decode(token));
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
