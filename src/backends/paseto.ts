// paseto backend (Prosody 13): the registration travels encrypted in a PASETO
// v3.local token. The key is generated once and kept in the module's store, so
// endpoints survive restarts.
import { PasetoV3Local } from "util.paseto";
import { KeyValStore } from "core.storagemanager";
import { isCanonicalBase64url } from "./backend";
import { TokenCodec } from "./stateless";

/**
 * What every v3.local token starts with. Neither we nor the reference module
 * issue a footer, so a token is this and one canonical base64url part: nothing
 * after it (util.paseto decrypts "T." and "T.x" as T).
 */
const PREFIX_PATTERN = "^v3%.local%.";
const PREFIX_LENGTH = 9;

/** Where the key lives: the same place the reference module keeps it. */
const KEY_RECORD = "_private";

interface KeyRecord {
  paseto_v3_local_key?: string;
}

/** Loads the persisted key, creating it on first use; undefined and why on failure. */
export function loadOrCreateKey(
  v3: PasetoV3Local,
  store: KeyValStore<KeyRecord>,
): LuaMultiReturn<[key: string, reason: undefined] | [key: undefined, reason: string]> {
  const [record, err] = store.get(KEY_RECORD);
  if (err !== undefined) return $multi(undefined, tostring(err));
  const existing = record?.paseto_v3_local_key;
  if (existing !== undefined) return $multi(existing, undefined);
  const key = v3.new_key();
  const [ok, setErr] = store.set(KEY_RECORD, { paseto_v3_local_key: key });
  if (ok !== true) return $multi(undefined, tostring(setErr));
  return $multi(key, undefined);
}

export function pasetoCodec(v3: PasetoV3Local, key: string): TokenCodec {
  const [encrypt, decrypt] = v3.init(key);
  return {
    name: "paseto",
    encode(claims) {
      const [token, err] = encrypt(claims);
      if (token === undefined) return $multi(undefined, tostring(err));
      return $multi(token, undefined);
    },
    decode(token) {
      const [ran, payload] = pcall(decrypt, token);
      return ran ? payload : undefined;
    },
    wellFormed(token) {
      return (
        string.find(token, PREFIX_PATTERN)[0] !== undefined &&
        isCanonicalBase64url(token, PREFIX_LENGTH + 1, token.length)
      );
    },
  };
}
