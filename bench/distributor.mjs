// The distributors, in a process of their own: many XMPP connections that
// acknowledge every push at once. Driven by bench/run.mjs over IPC.
import { randomBytes } from "node:crypto";
import { serve } from "./rpc.mjs";
import { Distributor } from "./xmpp.mjs";

const LOGINS_IN_PARALLEL = 20;
const servers = new Map(); // name -> [Distributor]
const registered = new Map(); // name -> [application, instance] of each registration, in order

/** Runs `task(i)` for i < count with at most `window` in flight. */
async function windowed(count, window, task) {
  let next = 0;
  const results = new Array(count);
  async function lane() {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  return results;
}

const token32 = () => randomBytes(32).toString("base64");

serve({
  /** Logs every user in: { name, port, host, users: [[user, password]], resource }. */
  async connect({ name, port, host, users, resource }) {
    const started = performance.now();
    const clients = await windowed(users.length, LOGINS_IN_PARALLEL, (i) =>
      new Distributor({ port, host, user: users[i][0], password: users[i][1], resource }).connect(),
    );
    servers.set(name, clients);
    return { connected: clients.length, ms: performance.now() - started };
  },

  /** Registers `count` endpoints round-robin over the users, `window` at a time. */
  async register({ name, count, window }) {
    const clients = servers.get(name);
    const apps = Array.from({ length: count }, () => [token32(), token32()]);
    registered.set(name, apps);
    const started = performance.now();
    const endpoints = await windowed(count, window, (i) =>
      clients[i % clients.length].register(...apps[i]),
    );
    return { endpoints, ms: performance.now() - started };
  },

  /** Registers every app of `register` again (a renewal), `window` at a time. */
  async renew({ name, window }) {
    const clients = servers.get(name);
    const apps = registered.get(name);
    const started = performance.now();
    const endpoints = await windowed(apps.length, window, (i) =>
      clients[i % clients.length].register(...apps[i]),
    );
    return { endpoints, ms: performance.now() - started };
  },

  /**
   * Puts every `every`-th distributor (from the first) to sleep as a phone in a
   * tunnel does: stream management with resumption, then the connection drops,
   * so Prosody keeps its session hibernating. Resolves with how many.
   */
  async hibernate({ name, every }) {
    const clients = servers.get(name);
    const sleepers = clients.filter((_, i) => i % every === 0);
    await Promise.all(sleepers.map((c) => c.enableResumption()));
    for (const c of sleepers) c.drop();
    return sleepers.length;
  },

  /** Logs distributor `index` out (a clean close). */
  closeOne({ name, index }) {
    servers.get(name)[index].close();
    return true;
  },

  /**
   * Logs distributor `index` in again and, meanwhile, pings the server from
   * distributor `pinger` back to back until `index` has answered `expect`
   * pushes (or `timeoutMs` passed). Resolves with the seconds that took and the
   * pings' round trips: the longest and the 99th percentile, in milliseconds.
   */
  async returnWhilePinging({
    name,
    index,
    pinger,
    expect,
    port,
    host,
    user,
    password,
    resource,
    timeoutMs,
  }) {
    const clients = servers.get(name);
    const started = performance.now();
    const back = new Distributor({ port, host, user, password, resource });
    const rtts = [];
    let done = false;
    const pinging = (async () => {
      while (!done && performance.now() - started < timeoutMs) {
        rtts.push(await clients[pinger].ping());
      }
    })();
    await back.connect();
    clients[index] = back;
    while (back.pushes < expect && performance.now() - started < timeoutMs) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seconds = (performance.now() - started) / 1000;
    done = true;
    await pinging;
    rtts.sort((a, b) => a - b);
    return {
      seconds,
      delivered: back.pushes,
      pings: rtts.length,
      maxPingMs: rtts.at(-1) ?? 0,
      p99PingMs: rtts[Math.floor(rtts.length * 0.99)] ?? 0,
    };
  },

  /** This process's CPU time and the pushes answered so far. */
  stats() {
    let pushes = 0;
    let down = 0;
    for (const clients of servers.values()) {
      for (const c of clients) {
        pushes += c.pushes;
        if (c.closed) down++;
      }
    }
    return { cpu: process.cpuUsage(), pushes, down };
  },

  close({ name }) {
    for (const c of servers.get(name) || []) c.close();
    servers.delete(name);
    registered.delete(name);
    return true;
  },
});
