// A real Prosody in one of the test environments, for suites that run on the
// host: spec/helpers/serve.lua starts it with prosody.start's options and keeps
// it until its stdin closes.
import { createInterface } from "node:readline";
import { pickRunner, spawnIn } from "../../scripts/lib/environments.mjs";

/** The environment the host-side suites target (npm test sets it per run). */
export const ENV = process.env.MUP_ENV_NAME || "prosody-13";
export const NS = "http://gultsch.de/xmpp/drafts/unified-push";

/** Starts Prosody; resolves with { c2s_port, http_port, http_base, dir, stop() }. */
export function startProsody(options, timeoutMs = 30_000) {
  const child = spawnIn(
    pickRunner(),
    ENV,
    ["lua5.4", "spec/helpers/serve.lua", JSON.stringify(options)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`Prosody did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.lua exited (status ${code}) before Prosody was ready`));
    });
    lines.once("line", (line) => {
      clearTimeout(timer);
      const info = JSON.parse(line);
      if (info.error) return reject(new Error(info.error));
      const exited = new Promise((done) => child.once("exit", done));
      resolve({
        ...info,
        stop() {
          child.stdin.end();
          return exited;
        },
      });
    });
  });
}
