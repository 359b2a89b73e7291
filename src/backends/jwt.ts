// jwt backend: the registration travels in an HS256 JWT signed with
// unified_push_secret. Anyone holding the URL can read the JID.
import { short } from "util.id";
import { sign, verify } from "util.jwt";
import { TokenCodec } from "./stateless";

export function jwtCodec(secret: string): TokenCodec {
  return {
    name: "jwt",
    encode(claims) {
      // A JWT is determined by its claims: without a random jti, registering the
      // same app again within a second would give back the same (maybe revoked) token.
      return $multi(sign(secret, { ...claims, jti: short() }), undefined);
    },
    decode(token) {
      // verify() raises on some malformed input; a bad token is the sender's
      // problem, not an error in our log.
      const [ran, ok, payload] = pcall(verify, secret, token);
      return ran && ok ? payload : undefined;
    },
  };
}
