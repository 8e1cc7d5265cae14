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
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuMeter, memory, openFds, percentile, round } from './proc-stats.ts';
import type { FanoutStatus, ParentMessage, ReadyMessage, RequestMessage, WindowStats, WorkerMessage } from './protocol.ts';
import { benchArgs, benchMain } from './bench-main.ts';

const USAGE = `usage: node test/bench/hub-bench.ts [--agents N] [--interval-ms MS] [--window-s S] [--settle-s S]
       [--workers N] [--concurrency N] [--timeout-s S] [--json]`;

const HUB_BIN = fileURLToPath(new URL('../../bin/hub.js', import.meta.url));
const WORKER = fileURLToPath(new URL('./sim-worker.ts', import.meta.url));
const PLANE = 'bench';

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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function progress(text: string): void {
  process.stderr.write(`[hub-bench] ${text}\n`);
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, task: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

interface HubJson {
  apiUrl: string;
  grpcAddress: string;
  adminTokenFile: string;
  caFile: string;
  pid: number;
}

class HubApi {
  readonly #url: string;
  readonly #token: string;
  constructor(url: string, token: string) {
    this.#url = url;
    this.#token = token;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.#url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}

/** One simulator process and a request/reply channel to it. */
class Worker {
  readonly proc: ChildProcess;
  /** Resolves when all its agents are up (or given up on); rejects if the process dies first. */
  readonly ready: Promise<ReadyMessage>;
  enrolled = 0;
  connected = 0;
  failed = 0;
  #nextId = 1;
  readonly #pending = new Map<number, (body: unknown) => void>();

  constructor(name: string, failures: string[]) {
    // The bundle's hub address is an IP; Node warns once per process about using it as TLS SNI.
    this.proc = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.execArgv });
    this.ready = new Promise((resolve, reject) => {
      this.proc.on('exit', (code, signal) => {
        if (live.cleaning) return;
        const why = `${name} exited early (${code ?? signal})`;
        failures.push(why);
        reject(new Error(why));
      });
      this.proc.on('message', (msg: WorkerMessage) => {
        if (msg.t === 'progress') {
          this.enrolled = msg.enrolled;
          this.connected = msg.connected;
          this.failed = msg.failed;
        } else if (msg.t === 'ready') {
          this.connected = msg.connected;
          this.failed = msg.failed;
          resolve(msg);
        } else {
          this.#pending.get(msg.id)?.(msg.body);
          this.#pending.delete(msg.id);
        }
      });
    });
    // Only the first await sees a rejection; later ones must not become unhandled.
    this.ready.catch(() => undefined);
  }

  send(msg: ParentMessage): void {
    this.proc.send(msg);
  }

  request<T>(what: RequestMessage['what']): Promise<T> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, (body) => resolve(body as T));
      this.send({ t: 'request', id, what });
    });
  }
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

/** Everything that must be undone however the run ends. */
const live: { dir?: string; hub?: ChildProcess; workers: Worker[]; cleaning?: Promise<void> } = { workers: [] };

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

async function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (exited(p)) return true;
  return Promise.race([new Promise<boolean>((r) => p.once('exit', () => r(true))), sleep(ms).then(() => exited(p))]);
}

function cleanup(): Promise<void> {
  live.cleaning ??= (async () => {
    for (const w of live.workers) if (!exited(w.proc) && w.proc.connected) w.send({ t: 'stop' });
    await Promise.all(live.workers.map(async (w) => (await waitExit(w.proc, 3000)) || w.proc.kill('SIGKILL')));
    const hub = live.hub;
    if (hub && !exited(hub)) {
      hub.kill('SIGTERM');
      if (!(await waitExit(hub, 15_000))) {
        hub.kill('SIGKILL');
        await waitExit(hub, 5000);
      }
    }
    if (live.dir) rmSync(live.dir, { recursive: true, force: true });
  })();
  return live.cleaning;
}

function hubLogTail(lines = 15): string {
  const file = live.dir ? join(live.dir, 'hub.log') : '';
  if (!file || !existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

async function waitForFile(path: string, ms: number, hub: ChildProcess): Promise<void> {
  const until = Date.now() + ms;
  while (!existsSync(path)) {
    if (exited(hub)) throw new Error(`hub exited (${hub.exitCode ?? hub.signalCode}) before writing ${path}`);
    if (Date.now() > until) throw new Error(`hub did not write ${path} within ${ms} ms`);
    await sleep(100);
  }
}

async function run(o: Options): Promise<Report> {
  /** failures make the run fail; warnings are reported only. */
  const failures: string[] = [];
  const warnings: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'hub-bench-'));
  live.dir = dir;

  // The hub logs JSON lines to stderr; keep them in a file (shown on failure) rather than on the terminal.
  const logFd = openSync(join(dir, 'hub.log'), 'a');
  const hub = spawn(
    process.execPath,
    [HUB_BIN, 'serve', '--data-dir', dir, '--grpc-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0', '--heartbeat-interval-ms', String(o.intervalMs)],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  live.hub = hub;
  hub.on('exit', (code, signal) => {
    if (!live.cleaning) failures.push(`hub exited early (${code ?? signal})`);
  });
  await waitForFile(join(dir, 'hub.json'), 30_000, hub);
  const info = JSON.parse(readFileSync(join(dir, 'hub.json'), 'utf8')) as HubJson;
  const api = new HubApi(info.apiUrl, readFileSync(info.adminTokenFile, 'utf8').trim());
  progress(`hub pid ${info.pid} api ${info.apiUrl} grpc ${info.grpcAddress}`);

  // Provision: a manual plane, so the hub only writes bundles and the agents are ours to run.
  await api.call('POST', '/v1/planes', { name: PLANE, infraProvider: 'manual' });
  const names = Array.from({ length: o.agents }, (_, i) => `agent-${String(i).padStart(5, '0')}`);
  const provisionStart = performance.now();
  let provisioned = 0;
  const nameById = new Map<string, string>();
  await pool(names, 16, async (name) => {
    const a = await api.call<{ id: string }>('POST', `/v1/planes/${PLANE}/agents`, { name, ownerEmail: `${name}@example.com` });
    nameById.set(a.id, name);
    provisioned += 1;
    if (provisioned % 100 === 0 || provisioned === o.agents) progress(`provisioned ${provisioned}/${o.agents}`);
  });
  const provisionS = (performance.now() - provisionStart) / 1000;
  const bundles = names.map((n) => readFileSync(join(dir, 'enrollment', PLANE, `${n}.bundle`), 'utf8').trim());

  // Simulators: agents split evenly over the worker processes.
  const connectStart = performance.now();
  const nWorkers = Math.min(o.workers, o.agents);
  for (let w = 0; w < nWorkers; w++) {
    const worker = new Worker(`simulator worker ${w}`, failures);
    live.workers.push(worker);
    const agents = bundles.flatMap((bundle, index) => (index % nWorkers === w ? [{ index, bundle }] : []));
    worker.send({ t: 'start', agents, concurrency: o.concurrency });
  }
  const ticker = setInterval(() => {
    const sum = (k: 'enrolled' | 'connected' | 'failed'): number => live.workers.reduce((s, w) => s + w[k], 0);
    progress(`enrolled ${sum('enrolled')}/${o.agents}, connected ${sum('connected')}/${o.agents}, failed ${sum('failed')}`);
  }, 2000);
  const ready = await Promise.all(live.workers.map((w) => w.ready));
  clearInterval(ticker);
  const connected = ready.reduce((s, r) => s + r.connected, 0);
  const failed = ready.reduce((s, r) => s + r.failed, 0);
  progress(`simulators ready: ${connected} connected, ${failed} failed`);
  if (failed > 0) throw new Error(`${failed} agent(s) failed to connect, e.g.: ${ready.flatMap((r) => r.errors).slice(0, 3).join('; ')}`);

  // The hub's own view is the one that counts.
  const until = Date.now() + 60_000;
  for (;;) {
    const { agents } = await api.call<{ agents: Array<{ connected: boolean }> }>('GET', `/v1/planes/${PLANE}/agents`);
    const n = agents.filter((a) => a.connected).length;
    if (n === o.agents) break;
    if (Date.now() > until) throw new Error(`hub lists only ${n}/${o.agents} agents as connected`);
    await sleep(1000);
  }
  const connectS = (performance.now() - connectStart) / 1000;
  progress(`hub lists all ${o.agents} agents connected after ${round(connectS)} s; settling ${o.settleS} s`);
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
