// jwt backend: the registration travels in an HS256 JWT signed with
// unified_push_secret. Stateless; anyone holding the URL can read the JID.
import { sign, verify } from "util.jwt";
import { asRegistration, Backend } from "./backend";

export function jwtBackend(secret: string): Backend {
  return {
    name: "jwt",
    issue(registration) {
      return $multi(sign(secret, registration), undefined);
    },
    resolve(token, now) {
      // verify() raises on some malformed input (e.g. a payload that is not
      // base64); a bad token is the sender's problem, not an error in our log.
      const [ran, ok, payload] = pcall(verify, secret, token);
      if (!ran || !ok) return $multi(undefined, "invalid");
      const registration = asRegistration(payload);
      if (registration === undefined) return $multi(undefined, "invalid");
      if (registration.exp < now) return $multi(undefined, "expired");
      return $multi(registration, undefined);
    },
  };
}
