// Request/answer over the IPC channel of a forked Node process: the bench's
// distributor and load generator run in their own processes, so each one's CPU
// time (process.cpuUsage) is its own and they can use the second core.
import { fork } from "node:child_process";

/** In the child: answers { id, op, args } messages with handlers[op](args). */
export function serve(handlers) {
  process.on("message", async ({ id, op, args }) => {
    try {
      const handler = handlers[op];
      if (!handler) throw new Error(`unknown operation ${op}`);
      process.send({ id, result: await handler(args) });
    } catch (err) {
      process.send({ id, error: err && err.stack ? err.stack : String(err) });
    }
  });
  // The parent gone means the bench is over: leave with it.
  process.on("disconnect", () => process.exit(0));
}

/** In the parent: forks `file`; returns { call(op, args, timeoutMs), stop(), pid }. */
export function startWorker(file) {
  const child = fork(file, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = new Map();
  let next = 0;
  child.on("message", ({ id, result, error }) => {
    const entry = waiting.get(id);
    if (!entry) return;
    waiting.delete(id);
    clearTimeout(entry.timer);
    if (error) entry.reject(new Error(error));
    else entry.resolve(result);
  });
  child.on("exit", (code) => {
    for (const { reject, timer } of waiting.values()) {
      clearTimeout(timer);
      reject(new Error(`${file} exited (${code})`));
    }
    waiting.clear();
  });
  return {
    pid: child.pid,
    call(op, args = {}, timeoutMs = 600_000) {
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${op} took longer than ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, { resolve, reject, timer });
        child.send({ id, op, args });
      });
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
  };
}
