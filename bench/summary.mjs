// Rounds folded into one row per environment, backend, module and concurrency:
// medians across rounds (so one noisy round moves nothing), non-201 answers summed.

export function median(values) {
  const v = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function sumStatuses(runs) {
  const out = {};
  for (const run of runs) {
    for (const [status, n] of Object.entries(run.statuses)) {
      if (status !== "201") out[status] = (out[status] || 0) + n;
    }
  }
  return out;
}

function rowOf(runs) {
  const rates = runs.map((r) => r.pushesPerSecond);
  const shares = runs.map((r) => r.cpuShare);
  return {
    rounds: runs.length,
    pushesPerSecond: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    answered: runs.reduce((n, r) => n + r.completed, 0),
    non201: sumStatuses(runs),
    cpu: {
      prosody: median(shares.map((s) => s.prosody)),
      load: median(shares.map((s) => s.load)),
      distributor: median(shares.map((s) => s.distributor)),
      other: median(shares.map((s) => s.other)),
    },
  };
}

/** A collector setting in words: "generational GC", or the Lua table itself. */
export function collectorName(gc) {
  if (!gc) return "Prosody's default GC";
  const mode = /mode\s*=\s*"(\w+)"/.exec(gc);
  return mode && !/,/.test(gc) ? `${mode[1]} GC` : `gc = ${gc}`;
}

/** How a table row names a section: the backend, and the collector if not the default. */
const labelOf = (section) =>
  section.gc ? `${section.backend}, ${collectorName(section.gc)}` : section.backend;

/** The summary stored in results.json and rendered by report.mjs. */
export function summarise(results) {
  // The ceiling per environment and collector setting: { env, gc, byConcurrency }.
  const ceilings = {};
  const ceilingKey = (section) => `${section.env}|${section.gc || ""}`;
  for (const section of results.sections) {
    const runs = section.runs.filter((r) => r.module === "ceiling");
    const key = ceilingKey(section);
    if (runs.length === 0 || ceilings[key]) continue;
    ceilings[key] = { env: section.env, gc: section.gc || "", byConcurrency: {} };
    for (const c of results.config.concurrency) {
      ceilings[key].byConcurrency[c] = rowOf(runs.filter((r) => r.concurrency === c));
    }
  }

  const rows = [];
  const panels = [];
  for (const section of results.sections) {
    const { env, backend } = section;
    const gc = section.gc || "";
    const label = labelOf(section);
    const panel = { env, backend, gc, label, rows: [] };
    for (const c of results.config.concurrency) {
      const byModule = {};
      for (const module of ["reference", "ours", "floor"]) {
        const runs = section.runs.filter((r) => r.module === module && r.concurrency === c);
        if (runs.length) byModule[module] = rowOf(runs);
      }
      const { reference, ours, floor } = byModule;
      const ceiling = ceilings[ceilingKey(section)]?.byConcurrency[c];
      const row = {
        env,
        backend,
        gc,
        label,
        concurrency: c,
        reference,
        ours,
        floor,
        oursOfFloor:
          floor && ours && floor.pushesPerSecond > 0
            ? ours.pushesPerSecond / floor.pushesPerSecond
            : null,
        ratio:
          reference && ours && reference.pushesPerSecond > 0
            ? ours.pushesPerSecond / reference.pushesPerSecond
            : null,
        ceiling: ceiling ? ceiling.pushesPerSecond : null,
        oursOfCeiling: ceiling && ours ? ours.pushesPerSecond / ceiling.pushesPerSecond : null,
        referenceOfCeiling:
          ceiling && reference ? reference.pushesPerSecond / ceiling.pushesPerSecond : null,
      };
      rows.push(row);
      panel.rows.push(row);
    }
    // Each module's throughput as a share of its own at concurrency 64.
    const at64 = panel.rows.find((r) => r.concurrency === 64);
    for (const row of panel.rows) {
      for (const module of ["reference", "ours"]) {
        const base = at64?.[module]?.pushesPerSecond;
        if (row[module] && base) row[module].of64 = row[module].pushesPerSecond / base;
      }
    }
    const reg = (module, field) =>
      median(section.registrations.filter((r) => r.module === module).map((r) => r[field]));
    panel.registrations = {
      reference: reg("reference", "perSecond"),
      ours: reg("ours", "perSecond"),
    };
    panel.renewals = {
      reference: reg("reference", "renewalsPerSecond"),
      ours: reg("ours", "renewalsPerSecond"),
    };
    panel.sameEndpoint = {
      reference: reg("reference", "sameEndpoint"),
      ours: reg("ours", "sameEndpoint"),
    };
    panel.memory = section.memory;
    panel.kept = section.kept;
    panel.bigFlush = section.bigFlush;
    panel.hibernating = section.hibernating;
    panel.storm = section.storm;
    panel.servers = section.servers;
    panel.errors = section.errors || {};
    panel.afterBurst = {};
    for (const module of ["reference", "ours"]) {
      const runs = (section.afterBurst || []).filter((r) => r.module === module);
      if (runs.length === 0) continue;
      const fresh = panel.rows.find((r) => r.concurrency === 64)?.[module];
      const after = median(runs.map((r) => r.pushesPerSecond));
      panel.afterBurst[module] = {
        fresh: fresh ? fresh.pushesPerSecond : null,
        after,
        ratio: fresh && fresh.pushesPerSecond > 0 ? after / fresh.pushesPerSecond : null,
        rss: median(runs.map((r) => r.rss)),
        non201: sumStatuses(runs),
      };
    }
    panels.push(panel);
  }

  // The client side's CPU next to Prosody's, over every measured run.
  const all = results.sections.flatMap((s) =>
    s.runs.map((r) => ({ env: s.env, backend: labelOf(s), ...r })),
  );
  const clientShares = all.map((r) => r.cpuShare.load + r.cpuShare.distributor);
  const worst = all.reduce(
    (w, r) =>
      r.cpuShare.load + r.cpuShare.distributor > w.cpuShare.load + w.cpuShare.distributor ? r : w,
    all[0],
  );
  const clientCpu = all.length
    ? {
        medianClientShare: median(clientShares),
        maxClientShare: Math.max(...clientShares),
        maxLoadShare: Math.max(...all.map((r) => r.cpuShare.load)),
        maxDistributorShare: Math.max(...all.map((r) => r.cpuShare.distributor)),
        medianProsodyShare: median(all.map((r) => r.cpuShare.prosody)),
        medianOtherShare: median(all.map((r) => r.cpuShare.other)),
        maxOtherShare: Math.max(...all.map((r) => r.cpuShare.other)),
        noisyRuns: all.filter((r) => r.cpuShare.other >= 0.25).length,
        runs: all.length,
        worstRun: worst && {
          env: worst.env,
          backend: worst.backend,
          module: worst.module,
          concurrency: worst.concurrency,
          pushesPerSecond: worst.pushesPerSecond,
          cpuShare: worst.cpuShare,
        },
      }
    : null;
  return { rows, panels, ceilings, clientCpu };
}
