// jwt backend: the registration travels in an HS256 JWT signed with
// unified_push_secret. Anyone holding the URL can read the JID.
import { short } from "util.id";
import { sign, verify } from "util.jwt";
import { isCanonicalBase64url } from "./backend";
import { TokenCodec } from "./stateless";

/** Characters of an HS256 signature (32 bytes) in base64url. */
const SIGNATURE_CHARACTERS = 43;

export function jwtCodec(secret: string): TokenCodec {
  // The header util.jwt writes (and wrote for the reference module): the same
  // for every token, so only this spelling of it is one of ours.
  const header = string.match(sign(secret, {}), "^[^.]*%.")[0] ?? "";
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
    wellFormed(token) {
      if (header === "" || string.find(token, header, 1, true)[0] !== 1) return false;
      const [dot] = string.find(token, ".", header.length + 1, true);
      return (
        dot !== undefined &&
        token.length - dot === SIGNATURE_CHARACTERS &&
        isCanonicalBase64url(token, header.length + 1, dot - 1) &&
        isCanonicalBase64url(token, dot + 1, token.length)
      );
    },
  };
}
