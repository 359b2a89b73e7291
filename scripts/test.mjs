// `npm test`: build, type-check, lint, then run the busted suites inside the
// Prosody 0.12 and Prosody 13 environments (scripts/lib/environments.mjs).
//
//   npm test                          everything
//   npm test -- --env prosody-13      one environment
//   npm test -- --unit                spec/unit/ only (no server), or --server: spec/server/ only
//   npm test -- spec/server/load_spec.lua    arguments after the options go to busted
//                                     (and skip the host-side suites in spec/interop/);
//                                     spec/x_spec.lua, when it is not there, means
//                                     spec/unit/x_spec.lua and spec/server/x_spec.lua
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { ENVIRONMENTS, pickRunner, prepare, repo, runIn } from "./lib/environments.mjs";

function step(title, cmd, args) {
  console.log(`\n== ${title}`);
  const { status } = spawnSync(cmd, args, { cwd: repo, stdio: "inherit" });
  if (status !== 0) {
    console.error(`\n${title} failed.`);
    process.exit(status || 1);
  }
}

const args = process.argv.slice(2);
let environments = ENVIRONMENTS;
const envFlag = args.indexOf("--env");
if (envFlag !== -1) {
  environments = [args[envFlag + 1]];
  args.splice(envFlag, 2);
}

for (const half of ["unit", "server"]) {
  const flag = args.indexOf(`--${half}`);
  if (flag !== -1) args.splice(flag, 1, `--run=${half}`);
}
// A spec named by its place before spec/unit/ and spec/server/ (or by a habit).
for (let i = args.length - 1; i >= 0; i--) {
  const name = /^spec\/([^/]+_spec\.lua)$/.exec(args[i])?.[1];
  if (name === undefined || existsSync(`${repo}/${args[i]}`)) continue;
  const found = ["unit", "server"]
    .map((d) => `spec/${d}/${name}`)
    .filter((p) => existsSync(`${repo}/${p}`));
  if (found.length > 0) args.splice(i, 1, ...found);
}

step("build", "npm", ["run", "-s", "build"]);
step("type-check", "npm", ["run", "-s", "typecheck"]);
step("lint", "npm", ["run", "-s", "lint"]);

const runner = pickRunner();
const results = [];
for (const env of environments) {
  console.log(`\n== ${env} (${runner})`);
  if (!prepare(runner, env)) {
    results.push({ env, failed: "environment could not be prepared" });
    continue;
  }
  if (runIn(runner, env, ["luacheck", "--quiet", "dist", "spec"]) !== 0) {
    results.push({ env, failed: "luacheck" });
    continue;
  }
  const busted = runIn(runner, env, ["lua5.4", "/usr/bin/busted", ...args]);
  if (busted !== 0) {
    results.push({ env, failed: "busted" });
    continue;
  }
  if (args.length === 0) {
    // Host-side suites: real npm client libraries against Prosody in the environment.
    const interop = spawnSync(process.execPath, ["--test", "spec/interop/"], {
      cwd: repo,
      stdio: "inherit",
      env: { ...process.env, MUP_ENV_NAME: env, MUP_RUNNER: runner },
    });
    results.push({ env, failed: interop.status === 0 ? null : "interop" });
    continue;
  }
  results.push({ env, failed: null });
}

if (
  args.length === 0 &&
  environments.length === ENVIRONMENTS.length &&
  results.every((r) => !r.failed)
) {
  console.log("\n== docs/compatibility.md");
  const compat = spawnSync(process.execPath, ["scripts/compat.mjs", "--check"], {
    cwd: repo,
    stdio: "inherit",
    env: { ...process.env, MUP_RUNNER: runner },
  });
  results.push({
    env: "docs/compatibility.md",
    failed: compat.status === 0 ? null : "out of date",
  });
}

console.log("\n== summary");
for (const r of results) console.log(`${r.env}: ${r.failed ? `FAILED (${r.failed})` : "passed"}`);
process.exit(results.every((r) => !r.failed) ? 0 : 1);
