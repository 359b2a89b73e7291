// A real Prosody in one of the test environments, for suites that run on the
// host: spec/helpers/serve.lua starts it with prosody.start's options and keeps
// it until its stdin closes.
import { pickRunner, serveProsody } from "../../scripts/lib/environments.mjs";

/** The environment the host-side suites target (npm test sets it per run). */
export const ENV = process.env.MUP_ENV_NAME || "prosody-13";
export { NS } from "../../scripts/lib/unified-push.mjs";

/** Starts Prosody; resolves with { c2s_port, http_port, http_base, dir, stop() }. */
export function startProsody(options, timeoutMs = 30_000) {
  return serveProsody(pickRunner(), ENV, options, timeoutMs);
}
