// jwt backend: the registration travels in an HS256 JWT signed with
// unified_push_secret. Anyone holding the URL can read the JID.
import { sign, verify } from "util.jwt";
import { TokenCodec } from "./stateless";

export function jwtCodec(secret: string): TokenCodec {
  return {
    name: "jwt",
    encode(claims) {
      return $multi(sign(secret, claims), undefined);
    },
    decode(token) {
      // verify() raises on some malformed input; a bad token is the sender's
      // problem, not an error in our log.
      const [ran, ok, payload] = pcall(verify, secret, token);
      return ran && ok ? payload : undefined;
    },
  };
}
