// Choosing a backend happens here and nowhere else.
import { KeyValStore } from "core.storagemanager";
import { BackendName } from "../config";
import { Backend, Registration } from "./backend";
import { jwtCodec } from "./jwt";
import { loadOrCreateKey, pasetoCodec } from "./paseto";
import { loadRevocations } from "./revocation";
import { statelessBackend, TokenCodec } from "./stateless";
import { storageBackend } from "./storage";
import { JournaledStore } from "../journal";

type PasetoLibrary = typeof import("util.paseto");

/** util.paseto with v3.local (Prosody 13), or undefined where it is missing (0.12). */
function pasetoLibrary(): PasetoLibrary | undefined {
  const [found, library] = pcall(require, "util.paseto");
  if (!found) return undefined;
  const paseto = library as PasetoLibrary;
  return paseto.v3_local === undefined ? undefined : paseto;
}

/** Backends this Prosody supports, the default first. */
export function supportedBackends(): BackendName[] {
  return pasetoLibrary() !== undefined ? ["paseto", "storage", "jwt"] : ["storage", "jwt"];
}

type Result = LuaMultiReturn<
  [backend: Backend, reason: undefined] | [backend: undefined, reason: string]
>;

function stateless(codec: TokenCodec, store: KeyValStore<unknown>): Result {
  const [revocations, reason] = loadRevocations(store as KeyValStore<LuaMap<string, number>>);
  if (revocations === undefined)
    return $multi(undefined, `cannot load the revocation list: ${reason}`);
  return $multi(statelessBackend(codec, revocations), undefined);
}

/**
 * The backend named in the configuration, ready to use; undefined and why when
 * it cannot start (its key or revocation list cannot be read or stored).
 * `store` is the backend's store; `journaled`, the same seen through the
 * journal, where the storage backend writes what a registration issues.
 */
export function createBackend(
  name: BackendName,
  store: KeyValStore<unknown>,
  journaled: JournaledStore<Registration>,
  secret: string | undefined,
): Result {
  if (name === "jwt") {
    if (secret === undefined) return $multi(undefined, "unified_push_secret is not set");
    return stateless(jwtCodec(secret), store);
  }
  if (name === "paseto") {
    const v3 = pasetoLibrary()?.v3_local;
    if (v3 === undefined) return $multi(undefined, "util.paseto with v3.local is not available");
    const [key, reason] = loadOrCreateKey(
      v3,
      store as KeyValStore<{ paseto_v3_local_key?: string }>,
    );
    if (key === undefined)
      return $multi(undefined, `cannot load or store the paseto key: ${reason}`);
    return stateless(pasetoCodec(v3, key), store);
  }
  return $multi(storageBackend(journaled), undefined);
}
