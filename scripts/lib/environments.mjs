// The Prosody test environments (env/), entered through Docker when an engine
// answers, else through env/chroot.sh. Shared by `npm test`, `npm start` and the
// host-side suites. Inside an environment the repository is at /work/mup, or with
// the chroot runner at /work/$MUP_SLOT (env/chroot.sh: one copy per slot).
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const repo = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
export const ENVIRONMENTS = ["prosody-0.12", "prosody-13"];
/** The checkout inside the environments: this run's slot (Docker mounts it at /work/mup). */
export const INSIDE = `/work/${process.env.MUP_SLOT || "mup"}`;

function succeeds(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: repo, stdio: "ignore", timeout: 20_000 });
  return !result.error && result.status === 0;
}

/** "docker" or "chroot"; exits with what is missing when neither can work. */
export function pickRunner() {
  if (process.env.MUP_RUNNER) return process.env.MUP_RUNNER;
  if (succeeds("docker", ["info"])) return "docker";
  const isRoot = process.getuid && process.getuid() === 0;
  if (isRoot && succeeds("sh", ["-c", "command -v debootstrap && command -v chroot"])) {
    return "chroot";
  }
  console.error(
    [
      "No way to run the Prosody environments here. Either:",
      "  - a Docker engine (docker compose builds env/prosody-*/Dockerfile), or",
      "  - root with debootstrap and chroot (apt-get install debootstrap),",
      "    which env/chroot.sh uses to build the same environments.",
    ].join("\n"),
  );
  process.exit(2);
}

/** The command line that runs `argv` inside `env`. */
function commandIn(runner, env, argv) {
  if (runner === "docker") return ["docker", ["compose", "run", "--rm", "-T", env, ...argv]];
  return [path.join(repo, "env/chroot.sh"), ["run", env, ...argv]];
}

/** Builds the environment if needed and puts the current dist/, spec/, build/ in it. */
export function prepare(runner, env) {
  const steps =
    runner === "docker"
      ? [["docker", ["compose", "build", env]]]
      : [
          ["env/chroot.sh", ["ensure", env]],
          ["env/chroot.sh", ["sync", env]],
        ];
  return steps.every(
    ([cmd, args]) => spawnSync(cmd, args, { cwd: repo, stdio: "inherit" }).status === 0,
  );
}

/** Runs `argv` inside `env` to completion, output to the terminal; returns the exit status. */
export function runIn(runner, env, argv) {
  const [cmd, args] = commandIn(runner, env, argv);
  const result = spawnSync(cmd, args, { cwd: repo, stdio: "inherit" });
  return result.error ? 127 : result.status;
}

/** Starts `argv` inside `env` in the background; the child's PID is the program's own (chroot execs). */
export function spawnIn(runner, env, argv, options = {}) {
  const [cmd, args] = commandIn(runner, env, argv);
  return spawn(cmd, args, { cwd: repo, ...options });
}

/** Where a path inside the environment lives on the host (for Docker: one under /work/mup). */
export function hostPath(runner, env, inside) {
  if (runner === "docker") return path.join(repo, path.relative(INSIDE, inside));
  const root = spawnSync("env/chroot.sh", ["path", env], { cwd: repo, encoding: "utf8" });
  if (root.status !== 0) throw new Error(`env/chroot.sh path ${env} failed: ${root.stderr}`);
  return path.join(root.stdout.trim(), inside);
}

/**
 * Starts a real Prosody in `env` through spec/helpers/serve.lua with
 * prosody.start's options. Resolves with serve.lua's report ({ c2s_port,
 * http_port, http_base, dir, pid }) and stop(), which ends it.
 */
export function serveProsody(runner, env, options, timeoutMs = 30_000) {
  const child = spawnIn(
    runner,
    env,
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
