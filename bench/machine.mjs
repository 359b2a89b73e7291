// CPU accounting from /proc: the chroot environments share the host's PID
// namespace, so Prosody's /proc entry is readable from here.
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;
const ticksToMicros = (ticks) => (ticks * 1e6) / CLOCK_TICKS;

/** CPU time a process used so far, microseconds (utime + stime); 0 once it is gone. */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ticksToMicros(Number(fields[11]) + Number(fields[12]));
  } catch {
    return 0;
  }
}

/** CPU time all cores spent busy so far, microseconds (the "cpu" line of /proc/stat). */
export function machineBusyMicros() {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
  const [user, nice, system, , , irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return ticksToMicros(user + nice + system + irq + softirq + steal);
}

/**
 * A snapshot for CPU shares over an interval: each named process, this process,
 * and the whole machine. `later.since(earlier)` gives shares of one core, with
 * `other`: what the rest of the machine used (another test run, say).
 */
export function cpuSnapshot(pids) {
  const own = process.cpuUsage();
  return {
    at: performance.now(),
    self: own.user + own.system,
    machine: machineBusyMicros(),
    procs: Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMicros(pid)])),
    since(before) {
      const wallUs = (this.at - before.at) * 1000;
      const shares = { self: (this.self - before.self) / wallUs };
      let ours = this.self - before.self;
      for (const k of Object.keys(this.procs)) {
        const used = this.procs[k] - before.procs[k];
        shares[k] = used / wallUs;
        ours += used;
      }
      shares.other = Math.max(0, (this.machine - before.machine - ours) / wallUs);
      return shares;
    },
  };
}
