// Prosody for the bench: started through spec/helpers/serve.lua in one of the
// environments (the env slot named by MUP_SLOT), with accounts written straight
// into its data directory, and read from the host through /proc.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { hostPath, serveProsody } from "../scripts/lib/environments.mjs";

const START_TIMEOUT_MS = 60_000;

/** Where the slot's checkout is inside the environment (/work/$MUP_SLOT). */
export const slotDir = () => `/work/${process.env.MUP_SLOT || "mup"}`;

/** Copies the bench's Lua modules into the slot; returns their folder inside the env. */
export function installBenchPlugins(env, benchDir) {
  const inside = `${slotDir()}/bench-plugins`;
  const folder = hostPath("chroot", env, inside);
  mkdirSync(folder, { recursive: true });
  for (const name of [
    "mod_bench_ceiling.lua",
    "mod_bench_alloc.lua",
    "mod_bench_profile.lua",
    "mod_bench_floor.lua",
    "mod_bench_scale.lua",
  ]) {
    copyFileSync(path.join(benchDir, name), path.join(folder, name));
  }
  return inside;
}

// Prosody's datamanager escapes every non-alphanumeric byte of a path part.
const encodePart = (s) =>
  s.replace(/[^A-Za-z0-9]/g, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"));
const luaString = (s) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * A fresh data directory holding `users` ([user, password]) as internal_plain
 * accounts of `host`: one small file each, instead of one prosodyctl run each.
 * Returns its path inside the environment.
 */
export function makeDataDir(env, name, host, users) {
  const inside = `/tmp/mup-bench-data-${name}`;
  const root = hostPath("chroot", env, inside);
  rmSync(root, { recursive: true, force: true });
  const accounts = path.join(root, encodePart(host), "accounts");
  mkdirSync(accounts, { recursive: true });
  for (const [user, password] of users) {
    writeFileSync(
      path.join(accounts, `${encodePart(user)}.dat`),
      `return {\n\t["password"] = ${luaString(password)};\n};\n`,
    );
  }
  return inside;
}

/** Removes data directories a bench run that was killed left behind. */
export function removeStaleDataDirs(env) {
  const tmp = hostPath("chroot", env, "/tmp");
  for (const entry of readdirSync(tmp)) {
    if (entry.startsWith("mup-bench-data-")) {
      rmSync(path.join(tmp, entry), { recursive: true, force: true });
    }
  }
}

export function removeDataDir(env, inside) {
  if (!inside.startsWith("/tmp/mup-bench-data-")) return;
  // Prosody may still be finishing a write as it stops: retry a directory that refills.
  rmSync(hostPath("chroot", env, inside), {
    recursive: true,
    force: true,
    maxRetries: 5,
    retryDelay: 200,
  });
}

/** Starts Prosody in `env` with prosody.start's options; resolves with its ports and pid. */
export async function startProsody(env, options) {
  const server = await serveProsody("chroot", env, options, START_TIMEOUT_MS);
  return {
    ...server,
    env,
    /** Prosody's log, read from the host. */
    log() {
      try {
        return readFileSync(hostPath("chroot", env, `${server.dir}/bench.log`), "utf8");
      } catch {
        return "";
      }
    },
  };
}

/** Resident memory of a process, bytes (VmRSS in /proc/PID/status). */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** The soft limit on open files of a process (RLIMIT_NOFILE, from /proc/PID/limits). */
export function openFilesLimit(pid) {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return !m || m[1] === "unlimited" ? Infinity : Number(m[1]);
}

/** POSTs to one of Prosody's HTTP routes with the given Host header; resolves with the body. */
export function postTo(port, host, urlPath, timeoutMs = 30_000, method = "POST") {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: urlPath,
        method,
        headers: { host },
        timeout: timeoutMs,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () =>
          res.statusCode < 300
            ? resolve(body)
            : reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${body.slice(0, 300)}`)),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
