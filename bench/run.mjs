// npm run bench: the reference mod_unified_push (Debian's prosody-modules) and
// ours, side by side under the same load, on Prosody 0.12 and 13 and every
// backend each supports. See bench/README.md for what is measured and the knobs.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pickRunner, prepare } from "../scripts/lib/environments.mjs";
import {
  BACKENDS,
  BENCH_DIR,
  JWT_SECRET,
  readConfig,
  REFERENCE_MODULE,
  RELAY_CAPACITY_OPTIONS,
} from "./config.mjs";
import {
  installBenchPlugins,
  makeDataDir,
  openFilesLimit,
  postTo,
  removeDataDir,
  removeStaleDataDirs,
  rssBytes,
  slotDir,
  startProsody,
} from "./prosody.mjs";
import { cpuSnapshot } from "./machine.mjs";
import { startWorker } from "./rpc.mjs";
import { summarise } from "./summary.mjs";
import { writeReport } from "./report.mjs";

process.env.MUP_SLOT ||= "bench";
const HOST = "bench.test";
/** The reference module, ours, and the relay floor (mod_bench_floor.lua, loaded as unified_push). */
const MODULES = ["reference", "ours", "floor"];
const config = readConfig();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

/** Lua literal for an option value (strings, numbers, booleans, lists). */
function luaValue(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{ ${value.map(luaValue).join(", ")} }`;
  throw new Error(`bench: cannot write ${typeof value} into the Prosody config`);
}

/** The configuration both modules get: same text for the reference and ours. */
function serverConfig(backend, gc) {
  const options = {
    unified_push_backend: backend,
    ...(backend === "jwt" ? { unified_push_secret: JWT_SECRET } : {}),
    ...RELAY_CAPACITY_OPTIONS,
  };
  return [
    // A file log at info level, as a production server would have; relative to
    // the server directory (the launcher starts Prosody there).
    `log = { { levels = { min = ${luaValue(config.logLevel)} }, to = "file", filename = "bench.log" } }`,
    // Prosody's default collector unless told otherwise (bench/README.md).
    ...(gc ? [`gc = ${gc}`] : []),
    ...Object.entries(options).map(([k, v]) => `${k} = ${luaValue(v)}`),
  ].join("\n");
}

function targetsOf(endpoints) {
  return endpoints.map((endpoint) => {
    const url = new URL(endpoint);
    return { host: url.host, path: url.pathname + url.search };
  });
}

// The ceiling route: short path segments, so what is measured is Prosody's HTTP
// stack, not the path handling that long tokens cost.
const CEILING_TARGETS = Array.from({ length: 16 }, (_, i) => ({
  host: HOST,
  path: `/bench_ceiling/ceiling-${String(i).padStart(8, "0")}`,
}));

/** Every process of ours, so the CPU the rest of the machine uses can be told apart. */
function ourPids(workers, servers) {
  const pids = { distributor: workers.distributor.pid, runner: process.pid };
  for (const [name, server] of Object.entries(servers)) pids[`prosody_${name}`] = server.pid;
  return pids;
}

/**
 * Waits (at most config.quietWait seconds) until the rest of the machine uses
 * less than config.quietThreshold of a core: other test runs on this two-core
 * machine would otherwise take Prosody's core. Returns what it saw.
 */
async function waitForQuiet(pids) {
  const started = performance.now();
  let other;
  for (;;) {
    const before = cpuSnapshot(pids);
    await sleep(1000);
    other = cpuSnapshot(pids).since(before).other;
    const waited = (performance.now() - started) / 1000;
    if (other < config.quietThreshold || waited >= config.quietWait) {
      return { waited: Math.round(waited), otherBefore: other };
    }
  }
}

/** One load run against one server; CPU shares cover the measured window. */
async function measure(workers, servers, server, targets, shape) {
  const pids = ourPids(workers, servers);
  const quiet = await waitForQuiet(pids);
  const { [`prosody_${server.name}`]: own, ...rest } = pids;
  const result = await workers.load.call("run", {
    port: server.http_port,
    targets,
    body: config.body,
    drain: config.drain,
    watch: { prosody: own, ...rest },
    ...shape,
  });
  result.quiet = quiet;
  return result;
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

/**
 * A fresh Prosody with one module, its distributors logged in and `count`
 * endpoints (users x endpoints unless told) registered round-robin over them,
 * then registered again (timed: the registrations/s and renewals/s figures).
 */
async function freshServer(
  variant,
  name,
  pluginDir,
  workers,
  users,
  tag,
  { extraModules = [], count = config.users * config.endpoints } = {},
) {
  const { env, backend, gc } = variant;
  const dataDir = makeDataDir(env, `${env}-${backend}-${tag}`, HOST, users);
  let server;
  try {
    server = await startProsody(env, {
      hosts: [HOST],
      modules: [
        "unified_push",
        "bench_ceiling",
        "bench_alloc",
        ...(config.profile === "lua" ? ["bench_profile"] : []),
        ...extraModules,
      ],
      module_file: {
        reference: REFERENCE_MODULE,
        ours: `${slotDir()}/dist/mod_unified_push.lua`,
        floor: `${pluginDir}/mod_bench_floor.lua`,
      }[name],
      module_name: "unified_push",
      plugin_paths: [pluginDir],
      data_dir: dataDir,
      authentication: "internal_plain",
      config: serverConfig(backend, gc),
      max_lifetime: 4 * 3600,
    });
  } catch (err) {
    removeDataDir(env, dataDir);
    throw err;
  }
  server.name = name;
  server.key = tag;
  server.dataDir = dataDir;
  try {
    const login = await workers.distributor.call("connect", {
      name: tag,
      port: server.c2s_port,
      host: HOST,
      users,
      resource: "distributor",
    });
    server.loginSeconds = login.ms / 1000;
    const reg = await workers.distributor.call("register", {
      name: tag,
      count,
      window: config.registrationWindow,
    });
    server.targets = targetsOf(reg.endpoints);
    // The same apps again, as a distributor renewing them: timed, and how many
    // got their endpoint back (stable endpoints).
    const renewal = await workers.distributor.call("renew", {
      name: tag,
      window: config.registrationWindow,
    });
    server.registration = {
      count,
      perSecond: count / (reg.ms / 1000),
      renewalsPerSecond: count / (renewal.ms / 1000),
      sameEndpoint: renewal.endpoints.filter((e, i) => e === reg.endpoints[i]).length / count,
    };
    server.tokenLength = decodeURIComponent(
      new URL(reg.endpoints[0]).pathname.split("/").pop() + new URL(reg.endpoints[0]).search,
    ).length;
    server.endpointExample = reg.endpoints[0].replace(/\/push\/(.{0,8}).*$/, "/push/$1…");
  } catch (err) {
    await retire(env, workers, server);
    throw err;
  }
  return server;
}

/** Stops a server started by freshServer; returns the error lines of its log. */
async function retire(env, workers, server) {
  await workers.distributor.call("close", { name: server.key }).catch(() => {});
  const errors = server
    .log()
    .split("\n")
    .filter((line) => /\terror\t/.test(line));
  await server.stop();
  removeDataDir(env, server.dataDir);
  return errors;
}

/**
 * Every measurement for one variant: an environment, a backend and a collector
 * setting (`gc`, a Lua table, or "" for Prosody's default). `full` adds the
 * memory phase and the runs after the burst, which only the default collector gets.
 */
async function benchBackend(variant, pluginDir, workers, withCeiling, full, withStorm) {
  const { env, backend, gc } = variant;
  const users = Array.from({ length: config.users }, (_, i) => [
    `dist${String(i).padStart(4, "0")}`,
    `pw-${i}-bench`,
  ]);
  const section = {
    env,
    backend,
    gc,
    servers: {},
    runs: [],
    registrations: [],
    memory: {},
    afterBurst: [],
    errors: {},
  };
  const noteErrors = (name, lines) => {
    if (lines.length === 0) return;
    const e = (section.errors[name] ||= { lines: 0, first: lines[0] });
    e.lines += lines.length;
  };

  // Memory: a fresh server per module; warm up, read RSS, push memoryPushes
  // more, read RSS again.
  for (const name of full ? MODULES : []) {
    const server = await freshServer(variant, name, pluginDir, workers, users, `${name}-mem`);
    const servers = { [name]: server };
    try {
      section.servers[name] = {
        tokenLength: server.tokenLength,
        endpointExample: server.endpointExample,
      };
      const shape = { concurrency: config.memoryConcurrency };
      await measure(workers, servers, server, server.targets, {
        ...shape,
        count: config.warmupPushes,
      });
      await sleep(1000);
      const warm = rssBytes(server.pid);
      const run = await measure(workers, servers, server, server.targets, {
        ...shape,
        count: config.memoryPushes,
      });
      await sleep(1000);
      const after = rssBytes(server.pid);
      section.memory[name] = {
        afterWarmup: warm,
        afterPushes: after,
        pushes: config.memoryPushes,
        ok: run.ok,
        statuses: run.statuses,
        seconds: run.seconds,
        allocatedPerPush: await allocatedPerRequest(workers, servers, server, server.targets),
      };
      // The ceiling route is loaded beside either module; measure it once.
      if (name === "ours") {
        section.memory.ceiling = {
          allocatedPerPush: await allocatedPerRequest(workers, servers, server, CEILING_TARGETS),
        };
      }
      log(
        `${env} ${backend} ${name}: RSS ${(warm / 2 ** 20).toFixed(1)} MB after warm-up,`,
        `${(after / 2 ** 20).toFixed(1)} MB after ${config.memoryPushes} pushes`,
        `(${run.ok} answered 201 in ${run.seconds.toFixed(1)} s)`,
      );
      if (config.profile === "lua") {
        section.profiles ||= {};
        section.profiles[name] = await profile(workers, servers, server);
      }
    } finally {
      noteErrors(name, await retire(env, workers, server));
    }
  }

  if (full && config.keptPushes > 0) {
    const server = await freshServer(variant, "ours", pluginDir, workers, users, "ours-kept");
    try {
      section.kept = await storeAndForward(workers, server, users);
      const { kept, returned } = section.kept;
      log(
        `${env} ${backend} ours: ${Math.round(kept.perSecond)}/s kept (${kept.ok} answered 201),`,
        `${Math.round(returned.perSecond)}/s delivered on return (${returned.delivered} in`,
        `${returned.seconds.toFixed(1)} s)`,
      );
    } finally {
      noteErrors("ours", await retire(env, workers, server));
    }
    const flushServer = await freshServer(variant, "ours", pluginDir, workers, users, "ours-flush");
    try {
      section.bigFlush = await bigFlush(workers, flushServer, users);
      const f = section.bigFlush;
      log(
        `${env} ${backend} ours: ${f.delivered} kept messages of ${FLUSH_BODY} bytes for one`,
        `endpoint delivered in ${f.seconds.toFixed(2)} s; another user's pings: longest`,
        `${fmt(f.maxPingMs)} ms, p99 ${fmt(f.p99PingMs)} ms over ${f.pings}`,
      );
    } finally {
      noteErrors("ours", await retire(env, workers, flushServer));
    }
    // mod_smacks for this one: a tenth of the distributors hibernate.
    const sleepy = await freshServer(variant, "ours", pluginDir, workers, users, "ours-sm", {
      extraModules: ["smacks"],
    });
    try {
      section.hibernating = await hibernatingPhase(workers, sleepy);
      const { awake, hibernating, asleep } = section.hibernating;
      log(
        `${env} ${backend} ours c=64: ${Math.round(awake.pushesPerSecond)}/s p99 ${fmt(awake.p99)} ms`,
        `all awake; ${Math.round(hibernating.pushesPerSecond)}/s p99 ${fmt(hibernating.p99)} ms`,
        `with ${asleep} distributors hibernating`,
        `(${JSON.stringify(hibernating.statuses)})`,
      );
    } finally {
      noteErrors("ours", await retire(env, workers, sleepy));
    }
  }

  if (full && withStorm && config.storm > 0) {
    section.storm = await stormPhase(variant, pluginDir, workers, noteErrors);
  }

  // Rounds: every target at every concurrency, each on a fresh server (a burst
  // of 2000 requests leaves Prosody's Lua heap spread over far more memory, and
  // everything measured after it on the same process is slower), the order of
  // the targets rotated each round.
  const targets = withCeiling ? [...MODULES, "ceiling"] : MODULES;
  for (let round = 0; round < config.rounds; round++) {
    for (const target of rotate(targets, round)) {
      const name = target === "ceiling" ? "ours" : target;
      const server = await freshServer(
        variant,
        name,
        pluginDir,
        workers,
        users,
        `${target}-${round}`,
      );
      const servers = { [name]: server };
      try {
        if (target !== "ceiling") {
          section.registrations.push({ module: target, round, ...server.registration });
        }
        for (const concurrency of config.concurrency) {
          const result = await measure(
            workers,
            servers,
            server,
            target === "ceiling" ? CEILING_TARGETS : server.targets,
            { concurrency, warmup: config.warmup, duration: config.duration },
          );
          section.runs.push({ module: target, round, ...result });
          logRun(`${env} ${backend} round ${round + 1} ${target} c=${concurrency}:`, result);
        }
        // The same server at concurrency 64 again, after the highest concurrency.
        if (full && config.afterBurst && target !== "ceiling") {
          const result = await measure(workers, servers, server, server.targets, {
            concurrency: 64,
            warmup: config.warmup,
            duration: config.duration,
          });
          result.rss = rssBytes(server.pid);
          section.afterBurst.push({ module: target, round, ...result });
          logRun(`${env} ${backend} round ${round + 1} ${target} c=64 after the burst:`, result);
        }
      } finally {
        noteErrors(name, await retire(env, workers, server));
      }
    }
  }
  return section;
}

function logRun(what, result) {
  const bad = Object.entries(result.statuses).filter(([s]) => s !== "201");
  log(
    what,
    `${Math.round(result.pushesPerSecond)}/s p50 ${fmt(result.p50)} p99 ${fmt(result.p99)} ms`,
    bad.length ? `non-201 ${JSON.stringify(Object.fromEntries(bad))}` : "",
    `cpu prosody ${pct(result.cpuShare.prosody)} load ${pct(result.cpuShare.load)}`,
    `distributor ${pct(result.cpuShare.distributor)} other ${pct(result.cpuShare.other)}`,
    result.quiet.waited > 1 ? `(waited ${result.quiet.waited} s for quiet)` : "",
    result.rss ? `RSS ${(result.rss / 2 ** 20).toFixed(1)} MB` : "",
  );
}

/**
 * Store and forward, ours only (the reference answers 201 and loses the push):
 * the distributors log out, config.keptPushes pushes are kept for them, then
 * they log in again and everything kept is sent to them. Kept/s is the POSTs
 * answered; delivered on return counts from the first login to the last message.
 */
async function storeAndForward(workers, server, users) {
  const servers = { ours: server };
  await workers.distributor.call("close", { name: server.key });
  // Prosody has ended the sessions once a new login goes through; a second is plenty.
  await sleep(1000);
  const kept = await measure(workers, servers, server, server.targets, {
    concurrency: 64,
    count: config.keptPushes,
  });
  const started = performance.now();
  await workers.distributor.call("connect", {
    name: server.key,
    port: server.c2s_port,
    host: HOST,
    users,
    resource: "distributor",
  });
  const deadline = started + 120_000;
  let delivered = 0;
  while (performance.now() < deadline) {
    delivered = (await workers.distributor.call("stats")).pushes;
    if (delivered >= kept.ok) break;
    await sleep(50);
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    kept: { perSecond: kept.pushesPerSecond, ok: kept.ok, statuses: kept.statuses },
    returned: { delivered, seconds, perSecond: delivered / seconds },
  };
}

/** How long the storm waits for each answer before counting it as a timeout. */
const STORM_TIMEOUT_MS = 120_000;
/** Open files Prosody and the distributors need beyond one socket per distributor. */
const SPARE_FILES = 256;

/**
 * The reconnect storm (bench/README.md), for each module on a fresh server:
 * config.storm distributors log in and register config.stormEndpoints
 * endpoints each (then renew them once, `window` at a time, as every fresh
 * server does); then every distributor sends all its renewals at once. Timed
 * from the first IQ sent to the last answer.
 */
async function stormPhase(variant, pluginDir, workers, noteErrors) {
  const { env, backend } = variant;
  const users = Array.from({ length: config.storm }, (_, i) => [
    `storm${String(i).padStart(5, "0")}`,
    `pw-${i}-storm`,
  ]);
  const count = config.storm * config.stormEndpoints;
  const storm = {
    distributors: config.storm,
    endpoints: config.stormEndpoints,
    timeoutSeconds: STORM_TIMEOUT_MS / 1000,
    modules: {},
  };
  for (const name of MODULES) {
    const server = await freshServer(variant, name, pluginDir, workers, users, `${name}-storm`, {
      count,
    });
    const servers = { [name]: server };
    try {
      // One socket per distributor on either side: a low RLIMIT_NOFILE would fail logins
      // or the storm for a reason that is not the module's.
      for (const [who, pid] of [
        ["Prosody", server.pid],
        ["the distributor process", workers.distributor.pid],
      ]) {
        const limit = openFilesLimit(pid);
        if (limit < config.storm + SPARE_FILES) {
          throw new Error(
            `bench: ${who} may open ${limit} files, the storm needs ${config.storm + SPARE_FILES}` +
              " (raise `ulimit -n` before npm run bench)",
          );
        }
      }
      const pids = ourPids(workers, servers);
      const quiet = await waitForQuiet(pids);
      const logBefore = server.log().length;
      const before = cpuSnapshot(pids);
      const r = await workers.distributor.call(
        "storm",
        { name: server.key, timeoutMs: STORM_TIMEOUT_MS },
        STORM_TIMEOUT_MS + 60_000,
      );
      const after = cpuSnapshot(pids);
      const cpu = after.since(before);
      // Warnings during the storm (a limit, a slow store) would explain errors; error
      // lines go to noteErrors.
      const warnings = server
        .log()
        .slice(logBefore)
        .split("\n")
        .filter((line) => /\twarn\t/.test(line));
      const renewed = r.kinds.result ?? 0;
      storm.modules[name] = {
        ...r,
        renewed,
        errors: r.sent - renewed,
        perSecond: r.seconds > 0 ? renewed / r.seconds : null,
        loginSeconds: server.loginSeconds,
        registration: server.registration,
        cpuShare: {
          prosody: cpu[`prosody_${name}`],
          distributor: cpu.distributor,
          other: cpu.other,
        },
        // Prosody's CPU time over the storm: less sensitive than the wall time to other
        // processes taking its core on a shared machine.
        prosodyCpuSeconds: (cpu[`prosody_${name}`] * (after.at - before.at)) / 1000,
        quiet,
        warnings: { lines: warnings.length, first: warnings[0] ?? null },
      };
      const bad = Object.entries(r.kinds).filter(([kind]) => kind !== "result");
      log(
        `${env} ${backend} ${name} storm: ${r.sent} renewals from ${r.distributors} distributors`,
        `answered in ${secs(r.seconds)} s (half in ${secs(r.halfSeconds)} s),`,
        `${Math.round(storm.modules[name].perSecond ?? 0)}/s;`,
        bad.length
          ? `not renewed ${JSON.stringify(Object.fromEntries(bad))};`
          : "every one renewed;",
        `${r.sameEndpoint} kept their endpoint; logins ${server.loginSeconds.toFixed(1)} s,`,
        `registrations ${Math.round(server.registration.perSecond)}/s,`,
        `renewals ${Math.round(server.registration.renewalsPerSecond)}/s at window`,
        `${config.registrationWindow}; cpu prosody ${pct(cpu[`prosody_${name}`])}`,
        `(${storm.modules[name].prosodyCpuSeconds.toFixed(2)} s)`,
        `other ${pct(cpu.other)}`,
        warnings.length
          ? `(${warnings.length} warnings in Prosody's log meanwhile, first: ${warnings[0]})`
          : "",
      );
    } finally {
      noteErrors(name, await retire(env, workers, server));
    }
  }
  return storm;
}

/** Messages kept for one endpoint and sent on its return, and their size (bench/README.md). */
const FLUSH_MESSAGES = 1000;
const FLUSH_BODY = 1024;

/**
 * One endpoint's big flush, ours only: the first distributor logs out,
 * FLUSH_MESSAGES pushes of FLUSH_BODY bytes are kept for its first endpoint,
 * then it logs in again while a second session of another user pings the
 * server back to back from a process of its own: how long the delivery takes,
 * and the longest ping round trip meanwhile (what the rest of the server sees
 * of the flush).
 */
async function bigFlush(workers, server, users) {
  const servers = { ours: server };
  await workers.distributor.call("closeOne", { name: server.key, index: 0 });
  // Prosody has ended the session once the close has gone through; a second is plenty.
  await sleep(1000);
  // Endpoints are registered round-robin over the users: the first is the first user's.
  const kept = await measure(workers, servers, server, [server.targets[0]], {
    concurrency: 16,
    count: FLUSH_MESSAGES,
    body: FLUSH_BODY,
  });
  await workers.pinger.call("pingStart", {
    port: server.c2s_port,
    host: HOST,
    user: users[1][0],
    password: users[1][1],
    resource: "pinger",
  });
  const back = await workers.distributor.call("returnAndWait", {
    name: server.key,
    index: 0,
    expect: kept.ok,
    port: server.c2s_port,
    host: HOST,
    user: users[0][0],
    password: users[0][1],
    resource: "distributor",
    timeoutMs: 120_000,
  });
  const pings = await workers.pinger.call("pingStop");
  return { kept: { ok: kept.ok, statuses: kept.statuses }, ...back, ...pings };
}

/**
 * Pushes at concurrency 64 over every endpoint, all distributors awake, then
 * with every tenth one's connection dropped (its session hibernating, stream
 * management): pushes to those are kept and answered at once.
 */
async function hibernatingPhase(workers, server) {
  const servers = { ours: server };
  const shape = { concurrency: 64, warmup: config.warmup, duration: config.duration };
  const pick = (r) => ({
    pushesPerSecond: r.pushesPerSecond,
    p50: r.p50,
    p99: r.p99,
    statuses: r.statuses,
  });
  const awake = pick(await measure(workers, servers, server, server.targets, shape));
  const asleep = await workers.distributor.call("hibernate", { name: server.key, every: 10 });
  await sleep(1000);
  const hibernating = pick(await measure(workers, servers, server, server.targets, shape));
  return { asleep, awake, hibernating };
}

/**
 * Lua heap bytes one request allocates: config.allocPushes requests at
 * concurrency 64 with Prosody's collector stopped (mod_bench_alloc.lua).
 */
async function allocatedPerRequest(workers, servers, server, targets) {
  if (config.allocPushes === 0) return null;
  await postTo(server.http_port, HOST, "/bench_alloc/start");
  let run;
  let kb;
  try {
    run = await measure(workers, servers, server, targets, {
      concurrency: 64,
      count: config.allocPushes,
    });
  } finally {
    kb = JSON.parse(await postTo(server.http_port, HOST, "/bench_alloc/stop")).kb;
  }
  // Only a clean run counts: a failed request allocates less than a push.
  return run.ok === config.allocPushes ? (kb * 1024) / run.ok : null;
}

/** One extra run (at --profile-concurrency) with the Lua sampler on. */
async function profile(workers, servers, server) {
  await postTo(server.http_port, HOST, "/bench_profile/start");
  const run = await measure(workers, servers, server, server.targets, {
    concurrency: config.profileConcurrency,
    warmup: 0,
    duration: config.duration,
  });
  const result = JSON.parse(await postTo(server.http_port, HOST, "/bench_profile/stop"));
  result.pushesPerSecond = run.pushesPerSecond;
  return result;
}

/** A purge's figures: `started` the tick that began it, `timing` its ticks after. */
function purgeResult(started, timing) {
  return {
    firstMs: started.ms,
    ticks: timing.ticks,
    longestMs: Math.max(started.ms, timing.longest_ms),
    longestAt: timing.longest_at,
    p99Ms: timing.p99_ms,
    over50: timing.over_50_ms,
    workSeconds: (timing.total_ms + started.ms) / 1000,
    seconds: timing.seconds,
    finished: timing.active === 0,
  };
}

/** Users written per request of the scale phase's fixture. */
const FILL_CHUNK = 10000;

/**
 * The scale phase (bench/README.md, "Scale"), ours only: config.scale users'
 * records written straight into the stores (two index entries each, one
 * expired; a kept message for every 10th), on internal storage and SQLite.
 * Then the module is reloaded (the load itself, and the count of kept messages
 * after it) and its hourly purge runs; mod_bench_scale.lua times every tick of
 * the module's own timers.
 */
async function scalePhase(env, backend, pluginDir) {
  const results = [];
  for (const storage of ["internal", "sqlite"]) {
    const dataDir = makeDataDir(env, `${env}-scale-${storage}`, HOST, []);
    const sql = storage === "sqlite";
    const server = await startProsody(env, {
      hosts: [HOST],
      modules: ["unified_push", "bench_scale"],
      module_file: config.scaleModule || `${slotDir()}/dist/mod_unified_push.lua`,
      module_name: "unified_push",
      plugin_paths: [pluginDir],
      data_dir: dataDir,
      authentication: "internal_plain",
      storage: sql ? "sql" : "internal",
      config: [
        serverConfig(backend, config.gc),
        ...(sql ? ['sql = { driver = "SQLite3", database = "bench.sqlite" }'] : []),
      ].join("\n"),
      max_lifetime: 4 * 3600,
    });
    const call = async (method, route, timeoutMs = 600_000) =>
      JSON.parse(
        (await postTo(server.http_port, HOST, `/bench_scale/${route}`, timeoutMs, method)) ||
          "null",
      );
    const untilIdle = async (limitMs) => {
      const started = performance.now();
      for (;;) {
        const t = await call("GET", "timing");
        if (t.active === 0 || performance.now() - started > limitMs) {
          return { ...t, seconds: (performance.now() - started) / 1000 };
        }
        await sleep(100);
      }
    };
    try {
      const now = Math.floor(Date.now() / 1000);
      const heapBefore = (await call("GET", "heap")).kb;
      let fillMs = 0;
      for (let from = 0; from < config.scale; from += FILL_CHUNK) {
        const to = Math.min(config.scale, from + FILL_CHUNK);
        fillMs += (await call("POST", `fill?from=${from}&to=${to}&now=${now}`)).ms;
      }
      await call("POST", "timing");
      const load = await call("POST", "reload");
      const count = await untilIdle(600_000);
      await call("POST", "timing");
      const started = await call("POST", "purge");
      const purge = await untilIdle(1_800_000);
      // The next hour's purge: the first went over the stores' own listings (the
      // fixture wrote no lists) and filled the lists of users; this one goes by them.
      await call("POST", "timing");
      const againStarted = await call("POST", "purge");
      const again = await untilIdle(1_800_000);
      const heapAfter = (await call("GET", "heap")).kb;
      // A walk that failed ends early and says so in the log: its ticks would mislead.
      const warnings = server
        .log()
        .split("\n")
        .filter((line) => /\t(warn|error)\t/.test(line));
      const result = {
        env,
        backend,
        storage,
        users: config.scale,
        fillSeconds: fillMs / 1000,
        // Lua heap grown from before the fixture to after the purge, per user (two endpoints each).
        heapPerUserBytes: ((heapAfter - heapBefore) * 1024) / config.scale,
        loadMs: load.ms,
        count: {
          ticks: count.ticks,
          longestMs: count.longest_ms,
          longestAt: count.longest_at,
          p99Ms: count.p99_ms,
          over50: count.over_50_ms,
          seconds: count.seconds,
        },
        purge: purgeResult(started, purge),
        warnings: { lines: warnings.length, first: warnings[0] ?? null },
        purgeAgain: purgeResult(againStarted, again),
      };
      results.push(result);
      log(
        `${env} ${backend} ${storage} scale ${config.scale} users: load ${fmt(load.ms)} ms;`,
        `count of kept messages ${count.ticks} ticks, longest ${fmt(count.longest_ms)} ms;`,
        `purge ${result.purge.seconds.toFixed(1)} s in ${purge.ticks} ticks`,
        `(${result.purge.workSeconds.toFixed(1)} s of work), longest ${fmt(result.purge.longestMs)} ms`,
        `(tick ${purge.longest_at}), p99 ${fmt(purge.p99_ms)} ms, ${purge.over_50_ms} over 50 ms;`,
        `the next purge ${result.purgeAgain.seconds.toFixed(1)} s in ${again.ticks} ticks,`,
        `longest ${fmt(result.purgeAgain.longestMs)} ms (tick ${again.longest_at}),`,
        `p99 ${fmt(again.p99_ms)} ms, ${again.over_50_ms} over 50 ms`,
        warnings.length ? `(${warnings.length} warnings, first: ${warnings[0]})` : "",
      );
    } finally {
      await server.stop();
      removeDataDir(env, dataDir);
    }
  }
  return results;
}

const secs = (s) => (s === null ? "-" : s.toFixed(2));
const fmt = (ms) => (ms === null ? "-" : ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
const pct = (share) => `${Math.round(share * 100)}%`;

async function main() {
  const runner = pickRunner();
  if (runner !== "chroot") {
    console.error("bench: needs the chroot environments (reads Prosody's /proc entries)");
    process.exit(2);
  }
  const started = Date.now();
  const workers = {
    distributor: startWorker(path.join(BENCH_DIR, "distributor.mjs")),
    // One more client process, for the pings of the big flush (bench/README.md).
    pinger: startWorker(path.join(BENCH_DIR, "distributor.mjs")),
    load: startWorker(path.join(BENCH_DIR, "load.mjs")),
  };
  const results = {
    generated: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    config,
    relayCapacityOptions: RELAY_CAPACITY_OPTIONS,
    sections: [],
  };
  const interrupted = () => {
    workers.distributor.stop();
    workers.load.stop();
    workers.pinger.stop();
  };
  process.once("SIGINT", interrupted);
  try {
    for (const env of config.envs) {
      if (!prepare(runner, env)) throw new Error(`bench: preparing ${env} failed`);
      removeStaleDataDirs(env);
      const pluginDir = installBenchPlugins(env, BENCH_DIR);
      const backends = BACKENDS[env].filter(
        (b) => config.backends.length === 0 || config.backends.includes(b),
      );
      if (config.scale > 0 && backends.length > 0) {
        log(`${env} ${backends[0]}: scale phase, ${config.scale} users`);
        results.scale = [
          ...(results.scale ?? []),
          ...(await scalePhase(env, backends[0], pluginDir)),
        ];
      }
      if (config.scaleOnly) continue;
      for (const [i, backend] of backends.entries()) {
        log(`${env} ${backend}: starting`);
        const variant = { env, backend, gc: config.gc };
        results.sections.push(
          await benchBackend(variant, pluginDir, workers, config.ceiling && i === 0, true, i === 0),
        );
      }
      // The same load under another collector setting, for the default backend
      // (the first listed): Prosody's collector shapes the high concurrencies.
      if (config.gcAlternative && backends.length > 0) {
        const variant = { env, backend: backends[0], gc: config.gcAlternative };
        log(`${env} ${variant.backend} with gc = ${variant.gc}: starting`);
        results.sections.push(
          await benchBackend(variant, pluginDir, workers, config.ceiling, false),
        );
      }
    }
  } finally {
    workers.distributor.stop();
    workers.load.stop();
    workers.pinger.stop();
  }
  results.seconds = Math.round((Date.now() - started) / 1000);
  mkdirSync(config.out, { recursive: true });
  if (config.scaleOnly) {
    // The scale phase alone: its own file, the full report left as it was.
    const file = path.join(config.out, "scale.json");
    writeFileSync(
      file,
      JSON.stringify({ generated: results.generated, scale: results.scale }, null, 2) + "\n",
    );
    log(`done in ${results.seconds} s: ${file}`);
    return;
  }
  results.summary = summarise(results);
  mkdirSync(config.out, { recursive: true });
  await writeReport(results, config.out);
  log(`done in ${results.seconds} s: ${path.join(config.out, "results.md")}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
