/**
 * Hub benchmark: a real hub process, N simulated agents (each with its own
 * gRPC/TLS connection) in separate worker processes, all on loopback.
 * Measures the hub's CPU and memory while the agents heartbeat, the heartbeat
 * rate it sustains, and the latency of one plane-wide ping fan-out.
 *
 *   npm run bench:hub -- --agents 1000 [--interval-ms 5000] [--window-s 30] [--json]
 *
 * Exits non-zero if agents fail to connect or the fan-out misses any agent.
 */
import { CpuMeter, memory, openFds, percentile, round } from './proc-stats.ts';
import type { FanoutStatus, WindowStats } from './protocol.ts';
import { benchArgs, benchMain } from './bench-main.ts';
import { cleanup, hubLogTail, live, PLANE, pool, progress, setProgressPrefix, sleep, startSimulatedFleet } from './sim-fleet.ts';

const USAGE = `usage: node test/bench/hub-bench.ts [--agents N] [--interval-ms MS] [--window-s S] [--settle-s S]
       [--workers N] [--concurrency N] [--timeout-s S] [--json]`;

interface Options {
  agents: number;
  intervalMs: number;
  windowS: number;
  settleS: number;
  workers: number;
  concurrency: number;
  timeoutS: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values, num } = benchArgs(argv, USAGE, {
    agents: { type: 'string', default: '1000' },
    'interval-ms': { type: 'string', default: '5000' },
    'window-s': { type: 'string', default: '30' },
    'settle-s': { type: 'string' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '600' },
    json: { type: 'boolean', default: false },
  });
  const intervalMs = num('interval-ms', 100);
  return {
    agents: num('agents', 1),
    intervalMs,
    windowS: num('window-s', 1),
    // One full interval plus a margin, so every agent is heartbeating before the window opens.
    settleS: values['settle-s'] !== undefined ? num('settle-s', 0) : Math.ceil(intervalMs / 1000) + 2,
    workers: num('workers', 1),
    concurrency: num('concurrency', 1),
    timeoutS: num('timeout-s', 10),
    json: values.json,
  };
}

interface Report {
  agents: number;
  intervalMs: number;
  windowS: number;
  workers: number;
  setup: { provisionS: number; connectS: number };
  hub: { cpuPercent: number; cpuPeak1sPercent: number; rssMb: number; peakRssMb: number; openFds: number };
  heartbeats: { perS: number; expectedPerS: number; acks: number; sent: number; ackRttP50Ms: number; ackRttP99Ms: number; disconnects: number };
  fanOut: { firstMs: number; p50Ms: number; p99Ms: number; maxMs: number; delivered: number; postMs: number; resultsAtHubMs: number | null; resultsAtHub: number };
  /** Rate-controlled runs of ping over every agent: time from POST to the run's end, per concurrency limit. */
  runs: Array<{ maxConcurrency: string; ms: number; state: string; succeeded: number }>;
  simulatorCpuPercent: number[];
  ok: boolean;
  failures: string[];
  warnings: string[];
}

async function run(o: Options): Promise<Report> {
  /** failures make the run fail; warnings are reported only. */
  const failures: string[] = [];
  const warnings: string[] = [];
  setProgressPrefix('hub-bench');
  const { info, api, nWorkers, nameById, provisionS, connectS } = await startSimulatedFleet(o, failures);
  progress(`settling ${o.settleS} s`);
  await sleep(o.settleS * 1000);

  // Measurement window: nothing but heartbeats (and the hub's own timers).
  progress(`measuring for ${o.windowS} s`);
  const hubCpu = new CpuMeter(info.pid);
  const peakCpu = new CpuMeter(info.pid);
  const simCpu = live.workers.map((w) => new CpuMeter(w.proc.pid as number));
  await Promise.all(live.workers.map((w) => w.request('window-start')));
  const windowStart = performance.now();
  let cpuPeak1sPercent = 0;
  for (let s = 0; s < o.windowS; s++) {
    await sleep(1000);
    cpuPeak1sPercent = Math.max(cpuPeak1sPercent, peakCpu.lap());
  }
  const windows = await Promise.all(live.workers.map((w) => w.request<WindowStats>('window-end')));
  const windowSeconds = (performance.now() - windowStart) / 1000;
  const cpuPercent = hubCpu.lap();
  const mem = memory(info.pid);
  const fds = openFds(info.pid);
  const simulatorCpuPercent = simCpu.map((m) => round(m.lap()));
  const acks = windows.reduce((s, w) => s + w.acks, 0);
  const rtts = windows.flatMap((w) => w.ackRttMs).sort((a, b) => a - b);
  const disconnects = windows.reduce((s, w) => s + w.disconnectsTotal, 0);
  if (disconnects > 0) warnings.push(`${disconnects} stream(s) dropped and re-opened during the run`);

  // Fan-out: one ping to every agent; latency is from just before the POST to each agent's receipt (same clock).
  progress('fan-out: one ping to every agent');
  const t0 = Date.now();
  const posted = await api.call<{ commands: Array<{ id: string; agentId: string; state: string }> }>('POST', `/v1/planes/${PLANE}/commands`, { kind: 'ping' });
  const postMs = Date.now() - t0;
  let fan: FanoutStatus[] = [];
  const fanDeadline = Date.now() + 30_000;
  for (;;) {
    fan = await Promise.all(live.workers.map((w) => w.request<FanoutStatus>('fanout-status')));
    const answered = fan.reduce((s, f) => s + f.answered, 0);
    if (answered >= o.agents || Date.now() > fanDeadline) break;
    await sleep(50);
  }
  const receipts = fan.flatMap((f) => f.receivedAt.map((at) => at - t0)).sort((a, b) => a - b);
  if (receipts.length < o.agents) failures.push(`fan-out reached ${receipts.length}/${o.agents} agents within 30 s`);

  // When the hub recorded each result (its completedAt), read back once all were answered.
  const completed: number[] = [];
  await pool(posted.commands, 8, async (c) => {
    const name = nameById.get(c.agentId);
    if (!name) return;
    const cmd = await api.call<{ completedAt: number | null }>('GET', `/v1/planes/${PLANE}/agents/${name}/commands/${c.id}?waitSeconds=10`);
    if (cmd.completedAt !== null) completed.push(cmd.completedAt - t0);
  });
  if (completed.length < o.agents) warnings.push(`hub recorded ${completed.length}/${o.agents} ping results`);

  // Runs: the same ping as a rate-controlled run, all at once and a tenth at a time; the
  // raw fan-out above (resultsAtHubMs) is the baseline measured in this same run.
  const runs: Report['runs'] = [];
  for (const maxConcurrency of ['100%', '10%']) {
    progress(`run: ping every agent, maxConcurrency ${maxConcurrency}`);
    const r0 = Date.now();
    const started = await api.call<{ run: { id: string } }>('POST', `/v1/planes/${PLANE}/runs`, { kind: 'ping', maxConcurrency, maxErrors: '100%', timeoutSeconds: 60 });
    let state = 'running';
    let succeeded = 0;
    while (state === 'running' && Date.now() - r0 < 120_000) {
      const cur = await api.call<{ state: string; summary: { succeeded: number } }>('GET', `/v1/planes/${PLANE}/runs/${started.run.id}?waitSeconds=5`);
      state = cur.state;
      succeeded = cur.summary.succeeded;
    }
    runs.push({ maxConcurrency, ms: Date.now() - r0, state, succeeded });
    if (succeeded < o.agents) failures.push(`run at maxConcurrency ${maxConcurrency}: ${succeeded}/${o.agents} succeeded (${state})`);
  }

  return {
    agents: o.agents,
    intervalMs: o.intervalMs,
    windowS: round(windowSeconds),
    workers: nWorkers,
    setup: { provisionS: round(provisionS), connectS: round(connectS) },
    hub: { cpuPercent: round(cpuPercent), cpuPeak1sPercent: round(cpuPeak1sPercent), rssMb: round(mem.rssMb), peakRssMb: round(mem.peakRssMb), openFds: fds },
    heartbeats: {
      perS: round(acks / windowSeconds),
      expectedPerS: round((o.agents * 1000) / o.intervalMs),
      acks,
      sent: windows.reduce((s, w) => s + w.sent, 0),
      ackRttP50Ms: percentile(rtts, 50),
      ackRttP99Ms: percentile(rtts, 99),
      disconnects,
    },
    fanOut: {
      firstMs: receipts[0] ?? NaN,
      p50Ms: percentile(receipts, 50),
      p99Ms: percentile(receipts, 99),
      maxMs: receipts.at(-1) ?? NaN,
      delivered: receipts.length,
      postMs,
      resultsAtHubMs: completed.length === o.agents ? Math.max(...completed) : null,
      resultsAtHub: completed.length,
    },
    runs,
    simulatorCpuPercent,
    ok: failures.length === 0,
    failures,
    warnings,
  };
}

function figureLines(r: Report): string[] {
  const h = r.heartbeats;
  const f = r.fanOut;
  return [
    `agents=${r.agents} interval=${r.intervalMs}ms window=${r.windowS}s` +
      ` | hub cpu=${r.hub.cpuPercent}% of a core (busiest 1s ${r.hub.cpuPeak1sPercent}%), rss=${r.hub.rssMb}MB (peak ${r.hub.peakRssMb}MB)` +
      ` | heartbeats/s=${h.perS} (expected ${h.expectedPerS}), ack rtt p50=${h.ackRttP50Ms}ms p99=${h.ackRttP99Ms}ms` +
      ` | fan-out p50=${f.p50Ms}ms p99=${f.p99Ms}ms max=${f.maxMs}ms delivered=${f.delivered}/${r.agents}`,
    `  fan-out POST answered in ${f.postMs}ms, first agent got it at ${f.firstMs}ms; all results recorded at hub after ${f.resultsAtHubMs ?? `n/a (${f.resultsAtHub}/${r.agents})`}ms` +
      ` | setup: provision ${r.setup.provisionS}s, enrol+connect ${r.setup.connectS}s` +
      ` | simulator cpu=${r.simulatorCpuPercent.join('%,')}% (${r.workers} workers) | hub open fds=${r.hub.openFds} | stream drops=${h.disconnects}`,
    `  runs of ping over all ${r.agents}: ` +
      r.runs
        .map((x) => `maxConcurrency ${x.maxConcurrency}: ${x.ms}ms (${x.succeeded}/${r.agents} ${x.state}${f.resultsAtHubMs ? `, ${round(x.ms / f.resultsAtHubMs)}x the raw fan-out` : ''})`)
        .join(' | '),
  ];
}

benchMain({
  parseOptions,
  run,
  figureLines,
  cleanup,
  progress,
  hubLogTail,
});
