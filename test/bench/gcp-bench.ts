/**
 * gcp provisioning benchmark: a real hub (its own process, started with the gcp
 * provider) provisions a plane of N agents through `apply`, against the Google
 * stand-ins in this process, which answer with realistic operation latencies
 * (an insert is RUNNING for --insert-ms, 20 s by default) and Compute's write
 * rate limit (429 past --google-rate inserts a second, 20 by default).
 *
 *  1. baseline: one agent alone, wall time of add-agent (its insert latency
 *     plus the service account, bindings and waits around it);
 *  2. the plane: N agents by one apply; wall time until every instance is
 *     RUNNING, as a ratio of the baseline (target <= 1.5: the fan-out is
 *     parallel and rate-limited, not serial), the hub's CPU over that window,
 *     and the Google calls per agent by kind, 429s and retries included.
 *
 *   npm run bench:gcp -- [--agents 50] [--insert-ms 20000] [--google-rate 20] [--hub-rate 10] [--json]
 *
 * The VMs run nothing (no agentd): this measures the hub's side of provisioning.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GoogleStandin } from '../helpers/gcp/google-standin.ts';
import { benchArgs, benchMain } from './bench-main.ts';
import { CpuMeter, cpuSeconds, round } from './proc-stats.ts';

const USAGE = 'usage: node test/bench/gcp-bench.ts [--agents N] [--insert-ms MS] [--google-rate N] [--hub-rate N] [--timeout-s S] [--json]';
const HUB_PROCESS = fileURLToPath(new URL('./gcp-hub-process.ts', import.meta.url));
const PROJECT = 'bench-project';
const TARGET_RATIO = 1.5;

interface Options {
  agents: number;
  insertMs: number;
  googleRate: number;
  hubRate: number;
  timeoutS: number;
  json: boolean;
}

interface Report {
  ok: boolean;
  failures: string[];
  warnings: string[];
  agents: number;
  insertMs: number;
  baselineS: number;
  planeS: number;
  ratio: number;
  hubCpuS: number;
  hubCpuPct: number;
  callsPerAgent: number;
  callsByKind: Record<string, number>;
  rateLimited: number;
  machine: { cpus: number; load1: number };
}

function parseOptions(argv: string[]): Options {
  const { values, num } = benchArgs(argv, USAGE, {
    agents: { type: 'string', default: '50' },
    'insert-ms': { type: 'string', default: '20000' },
    'google-rate': { type: 'string', default: '20' },
    'hub-rate': { type: 'string', default: '10' },
    'timeout-s': { type: 'string', default: '600' },
    json: { type: 'boolean', default: false },
  });
  return {
    agents: num('agents', 1),
    insertMs: num('insert-ms', 1),
    googleRate: num('google-rate', 1),
    hubRate: num('hub-rate', 0.1, false),
    timeoutS: num('timeout-s', 10),
    json: values.json,
  };
}

const google = new GoogleStandin();
let hub: ChildProcess | undefined;
let dataDir = '';
let hubLog = '';
const progress = (line: string): void => void process.stderr.write(`${line}\n`);

async function startHub(o: Options): Promise<{ apiUrl: string; token: string; pid: number }> {
  dataDir = mkdtempSync(join(tmpdir(), 'gcp-bench-'));
  const options = {
    dataDir,
    grpcPort: 0,
    apiPort: 0,
    selfHealing: false,
    gcp: { apiEndpoint: google.url, insertsPerSecond: o.hubRate, operationDeadlineMs: o.insertMs * 3 + 60_000, callTimeoutMs: 150_000 },
  };
  const child = spawn(process.execPath, [HUB_PROCESS, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  hub = child;
  child.stderr?.on('data', (d: Buffer) => (hubLog = (hubLog + d.toString()).slice(-20_000)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    child.once('exit', (code) => reject(new Error(`hub exited with ${String(code)}: ${hubLog}`)));
  });
  const endpoints = JSON.parse(line) as { apiUrl: string; adminTokenFile: string };
  return { apiUrl: endpoints.apiUrl, token: readFileSync(endpoints.adminTokenFile, 'utf8').trim(), pid: child.pid as number };
}

async function api<T>(h: { apiUrl: string; token: string }, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${h.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${h.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const running = (): number => [...google.compute.vms.values()].filter((v) => v.status === 'RUNNING').length;

/** A request as its kind: "POST instances", "POST instances/{i}/setIamPolicy", "POST iap_tunnel/.../{i}:setIamPolicy". */
export function callKind(method: string, path: string): string {
  const p = path
    .replace(/^\/(compute\/)?v\d\/projects\/[^/]+\//, '')
    .replace(/^(zones|regions)\/[^/]+\//, '')
    .replace(/^global\//, '')
    .replace(/^iap_tunnel\/zones\/[^/]+\//, 'iap_tunnel/')
    .replace(/instances\/[^/:]+/, 'instances/{i}')
    .replace(/serviceAccounts\/[^/:]+/, 'serviceAccounts/{sa}')
    .replace(/operations\/[^/]+/, 'operations/{op}');
  return `${method} ${p}`;
}

/** Google calls since `from` (an index into the request log), by kind. */
function callsSince(from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of google.http.requests.slice(from)) {
    const kind = callKind(r.method, r.path);
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

async function run(o: Options): Promise<Report> {
  await google.start();
  google.catalog.addImage(PROJECT, 'agents-plane-agentd-20261201-000000', 'agents-plane-agentd');
  google.catalog.cpuLimit.set('us-east4', (o.agents + 1) * 2 + 10);
  google.iam.quota = o.agents + 10;
  google.compute.latencyMs = { insert: o.insertMs, delete: 500, stop: 500, start: 500, reset: 500, setMachineType: 200, setLabels: 200, resize: 200 };
  google.compute.insertsPerSecond = o.googleRate;
  const h = await startHub(o);
  progress(`hub pid ${h.pid}; stand-ins at ${google.url}; insert latency ${o.insertMs} ms, Compute answers 429 past ${o.googleRate} inserts/s, the hub sends at most ${o.hubRate}/s`);
  await api(h, 'POST', '/v1/planes', { name: 'bench', infraProvider: 'gcp', project: PROJECT, region: 'us-east4' });

  progress('baseline: one agent alone...');
  let t0 = performance.now();
  await api(h, 'POST', '/v1/planes/bench/agents', { name: 'baseline', ownerEmail: 'baseline@bench.example' });
  const baselineS = (performance.now() - t0) / 1000;
  progress(`  ${round(baselineS, 2)} s`);

  const doc = {
    apiVersion: 'openclaw.dev/v1alpha1',
    kind: 'AgentsPlane',
    metadata: { name: 'bench' },
    spec: {
      infrastructure: { provider: 'gcp', project: PROJECT, region: 'us-east4' },
      agents: [{ name: 'baseline', owner: 'baseline@bench.example' }, ...Array.from({ length: o.agents }, (_, i) => ({ name: `bench-a${i}`, owner: `a${i}@bench.example` }))],
    },
  };
  progress(`the plane: ${o.agents} agents by one apply...`);
  const before = running();
  const from = google.http.requests.length;
  const cpu = new CpuMeter(h.pid);
  const cpu0 = cpuSeconds(h.pid);
  t0 = performance.now();
  const ticker = setInterval(() => progress(`  ${running() - before}/${o.agents} RUNNING after ${round((performance.now() - t0) / 1000)} s`), 5000);
  let applied: { summary: { ok: number; failed: number }; results: Array<{ agent: string; outcome: string; message: string | null }> };
  try {
    applied = await api(h, 'POST', '/v1/planes/bench/apply', { document: doc, waitSeconds: 0 });
  } finally {
    clearInterval(ticker);
  }
  const planeS = (performance.now() - t0) / 1000;
  const hubCpuPct = cpu.lap();
  const hubCpuS = cpuSeconds(h.pid) - cpu0;
  const byKind = callsSince(from);
  const total = Object.values(byKind).reduce((a, b) => a + b, 0);
  const rateLimited = google.http.requests.slice(from).filter((r) => r.status === 429).length;
  const failures: string[] = [];
  const warnings: string[] = [];
  if (applied.summary.failed > 0) failures.push(`${applied.summary.failed} agents failed: ${applied.results.find((r) => r.outcome === 'failed')?.message ?? ''}`);
  if (running() - before !== o.agents) failures.push(`${running() - before} of ${o.agents} instances RUNNING`);
  const ratio = planeS / baselineS;
  if (ratio > TARGET_RATIO) failures.push(`wall time ${round(ratio, 2)}x one agent's, over the ${TARGET_RATIO}x target`);
  if ((loadavg()[0] ?? 0) > cpus().length) warnings.push(`machine load ${round(loadavg()[0] ?? 0, 1)} on ${cpus().length} cores: figures are noisy`);
  return {
    ok: failures.length === 0,
    failures,
    warnings,
    agents: o.agents,
    insertMs: o.insertMs,
    baselineS: round(baselineS, 2),
    planeS: round(planeS, 2),
    ratio: round(ratio, 2),
    hubCpuS: round(hubCpuS, 2),
    hubCpuPct: round(hubCpuPct, 1),
    callsPerAgent: round(total / o.agents, 1),
    callsByKind: Object.fromEntries(Object.entries(byKind).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, round(v / o.agents, 2)])),
    rateLimited,
    machine: { cpus: cpus().length, load1: round(loadavg()[0] ?? 0, 1) },
  };
}

benchMain<Options, Report>({
  parseOptions,
  run,
  progress,
  hubLogTail: () => hubLog,
  figureLines: (r) => [
    `bench:gcp  ${r.agents} agents, insert latency ${r.insertMs / 1000} s (machine: ${r.machine.cpus} cores, load ${r.machine.load1})`,
    `  one agent alone (baseline)      ${r.baselineS} s`,
    `  ${r.agents} agents to RUNNING          ${r.planeS} s  = ${r.ratio}x the baseline (target <= ${TARGET_RATIO}x)`,
    `  hub CPU over that window        ${r.hubCpuS} s  (${r.hubCpuPct}% of one core)`,
    `  Google calls per agent          ${r.callsPerAgent}  (${r.rateLimited} answered 429 and retried)`,
    ...Object.entries(r.callsByKind).map(([k, v]) => `    ${k.padEnd(52)} ${v}`),
  ],
  cleanup: async () => {
    if (hub && hub.exitCode === null) {
      const child = hub;
      child.kill('SIGTERM');
      await new Promise((r) => {
        child.once('exit', r);
        setTimeout(r, 10_000).unref();
      });
    }
    await google.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  },
});
