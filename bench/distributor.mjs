// The distributors, in a process of their own: many XMPP connections that
// acknowledge every push at once. Driven by bench/run.mjs over IPC.
import { randomBytes } from "node:crypto";
import { serve } from "./rpc.mjs";
import { Distributor } from "./xmpp.mjs";

const LOGINS_IN_PARALLEL = 20;
const servers = new Map(); // name -> [Distributor]
const registered = new Map(); // name -> [application, instance] of each registration, in order
const endpointsOf = new Map(); // name -> the endpoint each registration was answered with
let pinging = null; // pingStart's client and round trips, until pingStop

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
    endpointsOf.set(name, endpoints);
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
    endpointsOf.set(name, endpoints);
    return { endpoints, ms: performance.now() - started };
  },

  /**
   * The reconnect storm (bench/README.md): every distributor sends the
   * registration IQs of all its apps of `register` again (renewals) at once,
   * each distributor's in one write, all distributors in one loop. Waits for
   * every answer (or `timeoutMs` per IQ). Resolves with the seconds from the
   * first IQ sent to the last answer, the answers by kind, how many kept their
   * endpoint, and when half of the answers were in.
   */
  async storm({ name, timeoutMs }) {
    const clients = servers.get(name);
    const apps = registered.get(name);
    const before = endpointsOf.get(name);
    // Registration i went to distributor i % clients.length (register, above).
    const own = clients.map(() => []);
    apps.forEach((_, i) => own[i % clients.length].push(i));
    const answers = [];
    const started = performance.now();
    for (const [c, indices] of own.entries()) {
      const outcomes = clients[c].registerMany(
        indices.map((i) => apps[i]),
        timeoutMs,
      );
      outcomes.forEach((outcome, k) =>
        answers.push(outcome.then((o) => ({ ...o, i: indices[k] }))),
      );
    }
    const written = performance.now();
    const outcomes = await Promise.all(answers);
    const kinds = {};
    let sameEndpoint = 0;
    for (const o of outcomes) {
      kinds[o.kind] = (kinds[o.kind] || 0) + 1;
      if (o.kind === "result" && o.endpoint === before[o.i]) sameEndpoint++;
    }
    // Answers only: a timeout or a dropped connection is not an answer.
    const times = outcomes
      .filter((o) => o.kind !== "timeout" && o.kind !== "connection-error")
      .map((o) => o.at - started)
      .sort((a, b) => a - b);
    return {
      distributors: clients.length,
      sent: outcomes.length,
      answered: times.length,
      kinds,
      sameEndpoint,
      writeMs: written - started,
      // null when nothing was answered
      seconds: times.length ? times.at(-1) / 1000 : null,
      halfSeconds: times.length ? times[Math.floor((times.length - 1) / 2)] / 1000 : null,
      firstSeconds: times.length ? times[0] / 1000 : null,
    };
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
   * Logs distributor `index` in again; resolves once it has answered `expect`
   * pushes (or `timeoutMs` passed) with the seconds that took and how many.
   */
  async returnAndWait({ name, index, expect, port, host, user, password, resource, timeoutMs }) {
    const started = performance.now();
    const back = new Distributor({ port, host, user, password, resource });
    await back.connect();
    servers.get(name)[index] = back;
    while (back.pushes < expect && performance.now() - started < timeoutMs) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return { seconds: (performance.now() - started) / 1000, delivered: back.pushes };
  },

  /**
   * Logs a client in and pings the server back to back until pingStop (this
   * runs in a process of its own, so the round trips are the server's, not a
   * busy distributor's).
   */
  async pingStart({ port, host, user, password, resource }) {
    const client = await new Distributor({ port, host, user, password, resource }).connect();
    pinging = { client, rtts: [], done: false };
    const run = pinging;
    run.loop = (async () => {
      while (!run.done) run.rtts.push(await client.ping());
    })();
    return true;
  },

  /** Stops the pings; resolves with their number, p99 and longest round trip (ms). */
  async pingStop() {
    const run = pinging;
    pinging = null;
    run.done = true;
    await run.loop;
    run.client.close();
    const rtts = run.rtts.sort((a, b) => a - b);
    return {
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
    endpointsOf.delete(name);
    return true;
  },
});
