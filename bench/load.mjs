// The load generator, in a process of their own: N keep-alive HTTP/1.1
// connections, each sending one POST at a time (the concurrency), spread over
// the endpoints round-robin. A raw client on node:net rather than node:http: it
// costs a few microseconds per request, so it stays far from being the
// bottleneck on a two-core machine that also runs Prosody and the distributors.
import net from "node:net";
import { randomBytes } from "node:crypto";
import { cpuSnapshot } from "./machine.mjs";
import { serve } from "./rpc.mjs";

const CONNECT_TIMEOUT_MS = 60_000;
const OPENS_AT_ONCE = 64;
const MAX_COUNT_RUN_S = 1800;
const MAX_WARMUP_S = 30;
const MAX_WINDOW_S = 15;
const CRLFCRLF = Buffer.from("\r\n\r\n");

/** The bytes of one request per target, built once. */
function buildRequests(targets, bodyBytes) {
  const body = randomBytes(bodyBytes);
  return targets.map(({ host, path }) =>
    Buffer.concat([
      Buffer.from(
        `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n` +
          `Content-Type: application/octet-stream\r\nContent-Encoding: aes128gcm\r\n` +
          `TTL: 60\r\nContent-Length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]),
  );
}

/** Status and whether the server closes, from a response head; body length. */
function parseHead(head) {
  const text = head.toString("latin1");
  const status = Number(text.slice(9, 12));
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
  const close = /\r\nconnection:\s*close/i.test(text);
  const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(text);
  return { status, length: length ? Number(length[1]) : 0, close, chunked };
}

class Latencies {
  constructor() {
    this.values = new Float64Array(1 << 16);
    this.n = 0;
  }
  add(ms) {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }
  percentiles(...ps) {
    const sorted = this.values.slice(0, this.n).sort();
    return ps.map((p) =>
      this.n === 0 ? null : sorted[Math.min(this.n - 1, Math.floor((p / 100) * this.n))],
    );
  }
}

/** CPU shares of the watched processes, this one ("load") and the rest of the machine. */
function cpuWindow(watch) {
  const snap = cpuSnapshot(watch);
  const since = snap.since;
  snap.since = function (before) {
    const { self, ...shares } = since.call(this, before);
    return { load: self, ...shares };
  };
  return snap;
}

/** Runs `task(i)` for i < count with at most `window` at once; resolves with the results. */
async function windowed(count, window, task) {
  let next = 0;
  const results = new Array(count);
  async function worker() {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return results;
}

/**
 * One run: { port, targets: [{ host, path }], body, concurrency, watch: { name: pid } }
 * and either { warmup, duration } (seconds; completions inside the measured window
 * count) or { count } (send exactly count requests, all counted). drain: seconds
 * to wait for requests still in flight at the end.
 *
 * Connections are opened OPENS_AT_ONCE at a time and each one answers a GET
 * before the clock starts: a burst of connects beyond Prosody's listen backlog
 * (128) would leave some half-open until the kernel retries their handshake,
 * seconds later, and those lanes would sit idle inside the measured window.
 */
async function run({
  port,
  targets,
  body,
  concurrency,
  warmup = 0,
  duration,
  count,
  drain,
  watch,
}) {
  const requests = buildRequests(targets, body);
  const probes = targets.map(({ host, path }) =>
    Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
  );
  const statuses = {};
  const latencies = new Latencies();
  const sockets = new Set();
  let nextTarget = 0;
  let issued = 0;
  let inFlight = 0;
  let completed = 0;
  let measureFrom = Infinity;
  let measureTo = Infinity;
  let stopSending = false;
  const byCount = count !== undefined;
  let allDone;
  const finished = new Promise((resolve) => (allDone = resolve));
  const noMore = () => stopSending || (byCount && issued >= count);
  let lanesAnswered = 0;
  let beginMeasure = () => {};

  // Throughput by overlap: every answered request adds the share of its time
  // that fell inside the window (a request spanning the window's start or end
  // counts in part). At 2000 in flight the answers come in waves a second or
  // more apart, and counting whole answers inside a few-second window would be
  // off by a wave; the overlap sum is not (the lanes keep a request open all the
  // time but for the client's few microseconds between answer and next request).
  const credit = {};
  const note = (key, startedAt) => {
    const now = performance.now();
    if (!byCount && measureFrom !== Infinity) {
      const overlap = Math.min(now, measureTo) - Math.max(startedAt, measureFrom);
      if (overlap > 0) credit[key] = (credit[key] || 0) + overlap / (now - startedAt || 1e-6);
    }
    if (byCount || (now >= measureFrom && now <= measureTo)) {
      statuses[key] = (statuses[key] || 0) + 1;
      if (key === "201") latencies.add(now - startedAt);
      completed++;
    }
  };

  /** One lane: a connection sending a request whenever the last one is answered. */
  function lane(index) {
    return new Promise((resolveReady) => {
      const socket = net.connect({ port, host: "127.0.0.1" });
      socket.setNoDelay(true);
      sockets.add(socket);
      let chunks = [];
      let have = 0;
      let head = null;
      let startedAt = 0;
      let busy = false;
      let ready = false;
      let answered = false;

      const send = () => {
        if (noMore()) {
          socket.end();
          return;
        }
        issued++;
        inFlight++;
        busy = true;
        startedAt = performance.now();
        socket.write(requests[nextTarget++ % requests.length]);
      };
      const done = (key) => {
        busy = false;
        inFlight--;
        note(key, startedAt);
        if (inFlight === 0 && noMore()) allDone();
      };

      socket.once("connect", () => socket.write(probes[index % probes.length]));
      socket.on("data", (data) => {
        chunks.push(data);
        have += data.length;
        let buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        chunks = [buf];
        if (!head) {
          const end = buf.indexOf(CRLFCRLF);
          if (end < 0) return;
          head = parseHead(buf.subarray(0, end));
          head.end = end + 4;
          if (head.chunked) {
            socket.destroy(new Error("chunked responses are not expected"));
            return;
          }
        }
        if (have < head.end + head.length) return;
        // One request at a time: the answer is all there is.
        const status = String(head.status);
        const close = head.close;
        head = null;
        chunks = [];
        have = 0;
        if (!ready) {
          ready = true;
          resolveReady(close ? null : socket);
          if (close) socket.end();
          return;
        }
        done(status);
        if (!answered) {
          answered = true;
          lanesAnswered++;
        }
        if (measureFrom === Infinity) beginMeasure(false);
        if (close) socket.end();
        else send();
      });
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        if (!ready) {
          ready = true;
          resolveReady(null);
        }
        if (busy) done("connection-error");
      });
      socket.start = send;
    });
  }

  const opening = windowed(concurrency, OPENS_AT_ONCE, lane);
  const lanes = await Promise.race([
    opening,
    new Promise((resolve) => setTimeout(resolve, CONNECT_TIMEOUT_MS, "timeout")),
  ]);
  if (lanes === "timeout") {
    for (const s of sockets) s.destroy();
    throw new Error(`could not open ${concurrency} connections in ${CONNECT_TIMEOUT_MS} ms`);
  }
  const open = lanes.filter(Boolean);
  const started = performance.now();
  let cpuFrom = cpuWindow(watch);
  let cpuTo = null;
  const timers = [];
  // The measured window opens once the warm-up time has passed AND every lane
  // has had an answer (at 2000 in flight a slow server needs seconds for one
  // cycle; before that the run is not in its steady state), or at MAX_WARMUP_S.
  let window = duration;
  beginMeasure = (force) => {
    if (byCount || measureFrom !== Infinity) return;
    const now = performance.now();
    if (!force && (now - started < warmup * 1000 || lanesAnswered < open.length)) return;
    // Answers at high concurrency come in waves one cycle apart: a window shorter
    // than a few cycles would count one wave more or less. The warm-up just took
    // about one cycle, so the window is at least two of them (at most MAX_WINDOW_S).
    window = Math.min(MAX_WINDOW_S, Math.max(duration, (2 * (now - started)) / 1000));
    measureFrom = now;
    measureTo = now + window * 1000;
    cpuFrom = cpuWindow(watch);
    timers.push(
      setTimeout(() => {
        cpuTo = cpuWindow(watch);
        stopSending = true;
        if (inFlight === 0) allDone();
      }, window * 1000),
    );
  };
  for (const socket of open) socket.start();
  if (!byCount) {
    timers.push(setTimeout(() => beginMeasure(false), warmup * 1000));
    timers.push(setTimeout(() => beginMeasure(true), Math.max(warmup, MAX_WARMUP_S) * 1000));
  }
  const limit = (byCount ? MAX_COUNT_RUN_S : Math.max(warmup, MAX_WARMUP_S) + MAX_WINDOW_S) + drain;
  const drained = await Promise.race([
    finished.then(() => true),
    new Promise((resolve) => timers.push(setTimeout(resolve, limit * 1000, false))),
  ]);
  for (const t of timers) clearTimeout(t);
  const ended = performance.now();
  cpuTo ??= cpuWindow(watch);
  stopSending = true;
  for (const s of sockets) s.destroy();

  const [p50, p99] = latencies.percentiles(50, 99);
  const seconds = byCount ? (ended - started) / 1000 : window;
  return {
    concurrency,
    connections: open.length,
    seconds,
    completed,
    issued,
    ok: statuses["201"] || 0,
    pushesPerSecond: byCount ? (statuses["201"] || 0) / seconds : (credit["201"] || 0) / seconds,
    answersPerSecond: byCount
      ? completed / seconds
      : Object.values(credit).reduce((a, b) => a + b, 0) / seconds,
    p50,
    p99,
    statuses,
    notDrained: drained ? 0 : inFlight,
    warmupSeconds: byCount ? 0 : (measureFrom - started) / 1000,
    // Shares of one core during the measured window (the whole run when by count).
    cpuShare: cpuTo.since(cpuFrom),
  };
}

serve({
  run,
  stats: () => ({ cpu: process.cpuUsage() }),
});
