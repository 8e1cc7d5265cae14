/**
 * Agent benchmark: a hub in this process (the compiled one, from dist/, so its
 * local provider starts the compiled agentd as production does), a stub model
 * provider, and real agentd processes each supervising a real OpenClaw gateway
 * from the pinned runtime. Agents are added one after another; each is removed
 * after it has been measured, so only one gateway runs at a time.
 *
 * For every agent:
 *  - provision-to-green: from the POST that adds it until the hub reports it
 *    green (gateway running, ready, first RPC probe done), with the split;
 *  - agentd's RSS (and peak) after it has been green and idle for --idle-s;
 *  - agentd's CPU over that idle window, with the production intervals
 *    (heartbeat 5 s, HTTP probe 5 s, RPC poll 60 s);
 *  - the gateway's RSS and idle CPU, for context (that memory is OpenClaw's).
 *
 *   npm run bench:agent -- [--agents 3] [--idle-s 30] [--json]
 *
 * Exits non-zero if an agent does not turn green, or agentd does not run from dist/.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Hub as HubClass } from '../../hub/src/hub.ts';
import type { LogRecord, Logger as LoggerClass } from '../../common/src/logger.ts';
import type { PINNED_RUNTIME as PinnedRuntime } from '../../common/src/runtime/pins.ts';
import type { RuntimeManager as RuntimeManagerClass } from '../../common/src/runtime/runtime-manager.ts';
import { LlmStub } from '../helpers/llm-stub.ts';
import { testRuntimeRoot } from '../helpers/runtime-cache.ts';
import { alive, cmdline, groupRssMb, memoryDetail, type MemoryDetail } from './proc-info.ts';
import { CpuMeter, percentile, round } from './proc-stats.ts';
import { benchArgs, benchMain } from './bench-main.ts';

const USAGE = `usage: node test/bench/agent-bench.ts [--agents N] [--idle-s S] [--green-timeout-s S] [--timeout-s S]
       [--agentd-node-options FLAGS] [--agentd-env NAME=VALUE]... [--json]
  Run it through "npm run bench:agent" so dist/ is built first.
  --agentd-node-options sets NODE_OPTIONS for agentd only, to try V8 flags; pass it with "=",
  e.g. --agentd-node-options="--max-semi-space-size=1". The default is none, as in production.
  --agentd-env adds a variable to agentd's environment only (e.g. MALLOC_ARENA_MAX=2); repeatable.`;

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(REPO, 'dist');
const DIST_HUB = join(DIST, 'hub', 'src', 'hub.js');
const DIST_AGENTD_MAIN = join(DIST, 'agentd', 'src', 'main.js');
const PLANE = 'bench';
const MODEL_KEY = 'sk-bench-not-a-real-key';

const TARGET = { greenS: 20, agentdRssMb: 60, agentdCpuPercent: 0.5 } as const;
/** Production defaults, stated here so the report says what was measured (the bench does not override them). */
const PRODUCTION = { heartbeatIntervalMs: 5000, httpProbeMs: 5000, rpcPollMs: 60_000 } as const;

interface Options {
  agents: number;
  idleS: number;
  greenTimeoutS: number;
  timeoutS: number;
  agentdNodeOptions: string;
  agentdEnv: Record<string, string>;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values, num } = benchArgs(argv, USAGE, {
    agents: { type: 'string', default: '3' },
    'idle-s': { type: 'string', default: '30' },
    'green-timeout-s': { type: 'string', default: '120' },
    'timeout-s': { type: 'string' },
    'agentd-node-options': { type: 'string', default: '' },
    'agentd-env': { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
  });
  const agents = num('agents', 1);
  const idleS = num('idle-s', 5);
  const greenTimeoutS = num('green-timeout-s', 10);
  const agentdEnv: Record<string, string> = {};
  for (const kv of values['agentd-env']) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(kv);
    if (!m || m[1] === 'NODE_OPTIONS') throw new Error(`--agentd-env takes NAME=VALUE (NODE_OPTIONS has its own flag), got '${kv}'\n${USAGE}`);
    agentdEnv[m[1] as string] = m[2] as string;
  }
  return {
    agents,
    idleS,
    greenTimeoutS,
    // Runtime check, then per agent: green, idle window, removal (agentd drains the gateway).
    timeoutS: values['timeout-s'] !== undefined ? num('timeout-s', 30) : 300 + agents * (greenTimeoutS + idleS + 60),
    agentdNodeOptions: values['agentd-node-options'],
    agentdEnv,
    json: values.json,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function progress(text: string): void {
  process.stderr.write(`[agent-bench] ${text}\n`);
}

/** The parts of GET /v1/planes/:plane/agents/:name this benchmark reads. */
interface AgentJson {
  connected: boolean;
  health: { color: 'green' | 'yellow' | 'red'; reason: string };
  heartbeat: {
    heartbeat: { gateway: { state: string; pid: number; ready: boolean; startedAtMs: number } | null };
  } | null;
}

interface AgentResult {
  name: string;
  agentdPid: number;
  /** agentd's argv[1], read from /proc: must be the compiled entry point. */
  agentdEntry: string;
  /** Seconds from the POST that added the agent. */
  phases: {
    postS: number;
    /** agentd's first log line: the process is up and its modules are loaded. */
    agentdUpS: number | null;
    enrolledS: number | null;
    connectedS: number | null;
    gatewaySpawnedS: number | null;
    gatewayReadyS: number | null;
    greenS: number | null;
  };
  healthTrail: Array<{ atS: number; color: string; reason: string }>;
  idle: {
    windowS: number;
    agentdCpuPercent: number;
    gatewayCpuPercent: number;
    agentdAtGreen: MemoryDetail;
    agentd: MemoryDetail;
    gatewayPid: number;
    gatewayRssMb: number;
    gatewayGroupRssMb: number;
    gatewayGroupProcesses: number;
    stayedGreen: boolean;
  } | null;
  removeS: number | null;
}

interface Stats {
  min: number;
  median: number;
  max: number;
}

interface Report {
  agents: number;
  idleS: number;
  node: string;
  agentdEntry: string;
  agentdNodeOptions: string;
  agentdEnv: Record<string, string>;
  intervals: typeof PRODUCTION;
  runtimeCheckS: number;
  provisionToGreenS: Stats & { targetS: number; met: boolean };
  splitMedianS: { agentdUp: number; enrolled: number; connected: number; gatewaySpawned: number; gatewayReady: number; green: number };
  agentdRssMb: Stats & { peakMax: number; anonMedian: number; fileMedian: number; atGreenMedian: number; targetMb: number; met: boolean };
  agentdIdleCpuPercent: Stats & { targetPercent: number; met: boolean };
  gateway: { rssMbMedian: number; groupRssMbMedian: number; processes: number; idleCpuPercentMedian: number };
  perAgent: AgentResult[];
  ok: boolean;
  failures: string[];
  warnings: string[];
}

type HubModule = { Hub: typeof HubClass };

/** Everything that must be undone however the run ends. */
const live: { dir?: string; hub?: HubClass; stub?: LlmStub; logs: LogRecord[]; cleaning?: Promise<void> } = { logs: [] };

function cleanup(): Promise<void> {
  live.cleaning ??= (async () => {
    const hub = live.hub;
    if (hub) {
      try {
        if (hub.state === 'running') await hub.localProvider.stopAll();
      } catch (err) {
        progress(`stopping agents: ${(err as Error).message}`);
      }
      await hub.close().catch((err: unknown) => progress(`closing the hub: ${(err as Error).message}`));
    }
    await live.stub?.close().catch(() => undefined);
    if (live.dir) rmSync(live.dir, { recursive: true, force: true });
  })();
  return live.cleaning;
}

function hubLogTail(lines = 15): string {
  return live.logs
    .slice(-lines)
    .map((r) => JSON.stringify(r))
    .join('\n');
}

function fileTail(file: string, lines = 20): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Installs the pinned runtime into the shared cache if missing (verifies it otherwise), as the test setup does. */
async function ensureRuntime(root: string): Promise<number> {
  const t0 = performance.now();
  const { RuntimeManager } = (await import(pathToFileURL(join(DIST, 'common', 'src', 'runtime', 'runtime-manager.js')).href)) as { RuntimeManager: typeof RuntimeManagerClass };
  const { PINNED_RUNTIME } = (await import(pathToFileURL(join(DIST, 'agentd', 'src', 'runtime', 'pins.js')).href)) as { PINNED_RUNTIME: typeof PinnedRuntime };
  const { Logger, silentSink } = (await import(pathToFileURL(join(DIST, 'common', 'src', 'logger.js')).href)) as {
    Logger: typeof LoggerClass;
    silentSink: (r: LogRecord) => void;
  };
  const manager = new RuntimeManager({ root, log: new Logger('agent-bench', { sink: silentSink }), onProgress: (m) => progress(`runtime: ${m}`) });
  await manager.install({ ...PINNED_RUNTIME });
  return (performance.now() - t0) / 1000;
}

async function api<T>(apiUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Times (epoch ms) of agentd's milestones, from its own JSON log. */
function agentdMilestones(logFile: string): { firstLine?: number; enrolled?: number; connected?: number; spawned?: number; ready?: number } {
  const out: { firstLine?: number; enrolled?: number; connected?: number; spawned?: number; ready?: number } = {};
  if (!existsSync(logFile)) return out;
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let r: { time?: string; msg?: string; to?: string; child?: string };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      continue;
    }
    const t = r.time ? Date.parse(r.time) : NaN;
    if (!Number.isFinite(t)) continue;
    out.firstLine ??= t;
    if (r.msg === 'agentd state' && r.to === 'starting') out.enrolled ??= t;
    else if (r.msg === 'connected to hub') out.connected ??= t;
    else if (r.msg === 'child state' && r.to === 'starting') out.spawned ??= t;
    else if (r.msg === 'child state' && r.to === 'running') out.ready ??= t;
  }
  return out;
}

function stats(values: number[]): Stats {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return { min: sorted[0] ?? NaN, median: percentile(sorted, 50), max: sorted.at(-1) ?? NaN };
}

function median(values: Array<number | null | undefined>): number {
  return stats(values.filter((v): v is number => typeof v === 'number')).median;
}

async function measureAgent(o: Options, hub: HubClass, apiUrl: string, token: string, name: string, failures: string[], warnings: string[]): Promise<AgentResult> {
  const call = <T>(method: string, path: string, body?: unknown): Promise<T> => api<T>(apiUrl, token, method, path, body);
  const agentDir = join(hub.options.dataDir, 'local-agents', PLANE, name);
  const s = (epochMs: number | undefined): number | null => (epochMs === undefined ? null : round((epochMs - t0) / 1000, 2));
  const logsBefore = live.logs.length;

  const t0 = Date.now();
  await call('POST', `/v1/planes/${PLANE}/agents`, { name, ownerEmail: `${name}@example.com` });
  await call('PUT', `/v1/planes/${PLANE}/agents/${name}/secrets/FAKEAI_API_KEY`, { value: MODEL_KEY });
  const postS = (Date.now() - t0) / 1000;

  const agentdPid = Number.parseInt(readFileSync(join(agentDir, 'agentd.pid'), 'utf8'), 10);
  const argv = cmdline(agentdPid);
  // Node flags (the local provider's V8 settings) come before the entry point.
  const agentdEntry = argv.slice(1).find((a) => !a.startsWith('--')) ?? '';
  if (argv[0] !== process.execPath || agentdEntry !== DIST_AGENTD_MAIN) {
    throw new Error(`agentd (pid ${agentdPid}) does not run the compiled entry point: ${argv.join(' ')}`);
  }
  progress(`${name}: agentd pid ${agentdPid} runs ${agentdEntry}`);

  // Poll the hub's own view until green; remember when each condition first held.
  let connectedAt: number | undefined;
  let spawnedAt: number | undefined;
  let greenAt: number | undefined;
  let last: AgentJson | undefined;
  const trail: AgentResult['healthTrail'] = [];
  const deadline = t0 + o.greenTimeoutS * 1000;
  while (Date.now() < deadline) {
    const a = await call<AgentJson>('GET', `/v1/planes/${PLANE}/agents/${name}`);
    const now = Date.now();
    last = a;
    const prev = trail.at(-1);
    if (!prev || prev.color !== a.health.color || prev.reason !== a.health.reason) trail.push({ atS: round((now - t0) / 1000, 2), color: a.health.color, reason: a.health.reason });
    if (a.connected) connectedAt ??= now;
    const gw = a.heartbeat?.heartbeat.gateway;
    if (gw?.state === 'GATEWAY_STATE_STARTING' && gw.startedAtMs > 0) spawnedAt ??= gw.startedAtMs;
    if (a.health.color === 'green') {
      greenAt = now;
      break;
    }
    if (gw?.state === 'GATEWAY_STATE_FAILED') break;
    await sleep(100);
  }
  const m = agentdMilestones(join(agentDir, 'agentd.log'));
  const enrolledLog = live.logs.slice(logsBefore).find((r) => r.msg === 'agent enrolled' && r['agent'] === name);
  const phases: AgentResult['phases'] = {
    postS: round(postS, 2),
    agentdUpS: s(m.firstLine),
    enrolledS: s(enrolledLog ? Date.parse(enrolledLog.time) : m.enrolled),
    connectedS: s(connectedAt ?? m.connected),
    gatewaySpawnedS: s(m.spawned ?? spawnedAt),
    gatewayReadyS: s(m.ready),
    greenS: s(greenAt),
  };
  const result: AgentResult = { name, agentdPid, agentdEntry, phases, healthTrail: trail, idle: null, removeS: null };
  if (greenAt === undefined) {
    failures.push(`${name} did not turn green within ${o.greenTimeoutS} s; last: ${last?.health.color ?? '?'} (${last?.health.reason ?? 'no answer'})`);
    progress(`${name}: agentd log tail:\n${fileTail(join(agentDir, 'agentd.log'))}`);
    return result;
  }
  progress(`${name}: green after ${phases.greenS} s; idle for ${o.idleS} s`);

  // Idle window: nothing happens but heartbeats, probes and polls at their production intervals.
  const gatewayPid = last?.heartbeat?.heartbeat.gateway?.pid ?? 0;
  const agentdAtGreen = memoryDetail(agentdPid);
  const agentdCpu = new CpuMeter(agentdPid);
  const gatewayCpu = gatewayPid > 0 ? new CpuMeter(gatewayPid) : undefined;
  const windowStart = performance.now();
  let stayedGreen = true;
  // Check the hub's view now and then; the hub is in this process, so this costs agentd nothing.
  for (let left = o.idleS * 1000; left > 0; ) {
    const step = Math.min(5000, left);
    await sleep(step);
    left -= step;
    const a = await call<AgentJson>('GET', `/v1/planes/${PLANE}/agents/${name}`);
    if (a.health.color !== 'green') {
      if (stayedGreen) warnings.push(`${name} left green during the idle window: ${a.health.color} (${a.health.reason})`);
      stayedGreen = false;
    }
  }
  const windowS = (performance.now() - windowStart) / 1000;
  const agentdCpuPercent = agentdCpu.lap();
  const gatewayCpuPercent = gatewayCpu?.lap() ?? NaN;
  const agentd = memoryDetail(agentdPid);
  const gatewayRssMb = gatewayPid > 0 && alive(gatewayPid) ? memoryDetail(gatewayPid).rssMb : NaN;
  const group = gatewayPid > 0 ? groupRssMb(gatewayPid) : { rssMb: NaN, processes: 0 };
  result.idle = {
    windowS: round(windowS),
    agentdCpuPercent: round(agentdCpuPercent, 2),
    gatewayCpuPercent: round(gatewayCpuPercent, 2),
    agentdAtGreen: roundMemory(agentdAtGreen),
    agentd: roundMemory(agentd),
    gatewayPid,
    gatewayRssMb: round(gatewayRssMb),
    gatewayGroupRssMb: round(group.rssMb),
    gatewayGroupProcesses: group.processes,
    stayedGreen,
  };
  progress(
    `${name}: agentd rss ${result.idle.agentd.rssMb} MB (peak ${result.idle.agentd.peakRssMb} MB), idle cpu ${result.idle.agentdCpuPercent} %;` +
      ` gateway rss ${result.idle.gatewayRssMb} MB, idle cpu ${result.idle.gatewayCpuPercent} %`,
  );

  // Remove it, so the next agent has the machine to itself.
  const r0 = performance.now();
  await call('DELETE', `/v1/planes/${PLANE}/agents/${name}`);
  result.removeS = round((performance.now() - r0) / 1000);
  for (let i = 0; i < 50 && (alive(agentdPid) || (gatewayPid > 0 && alive(gatewayPid))); i++) await sleep(100);
  if (alive(agentdPid)) warnings.push(`${name}: agentd ${agentdPid} still alive after removal`);
  if (gatewayPid > 0 && alive(gatewayPid)) warnings.push(`${name}: gateway ${gatewayPid} still alive after removal`);
  return result;
}

function roundMemory(m: MemoryDetail): MemoryDetail {
  return { rssMb: round(m.rssMb), peakRssMb: round(m.peakRssMb), anonMb: round(m.anonMb), fileMb: round(m.fileMb), shmemMb: round(m.shmemMb) };
}

async function run(o: Options): Promise<Report> {
  const failures: string[] = [];
  const warnings: string[] = [];
  if (!existsSync(DIST_HUB) || !existsSync(DIST_AGENTD_MAIN)) throw new Error(`${DIST_HUB} or ${DIST_AGENTD_MAIN} is missing: run "npm run build" (or use "npm run bench:agent")`);
  if (process.env['NODE_OPTIONS']) warnings.push(`NODE_OPTIONS is set in this shell (${process.env['NODE_OPTIONS']}); agentd gets --agentd-node-options instead`);

  const runtimeRoot = testRuntimeRoot();
  progress(`checking the pinned runtime in ${runtimeRoot}`);
  const runtimeCheckS = await ensureRuntime(runtimeRoot);

  const stub = new LlmStub({ reply: 'Hello from the stub.' });
  live.stub = stub;
  const { baseUrl } = await stub.start();

  const dir = mkdtempSync(join(tmpdir(), 'agent-bench-'));
  live.dir = dir;
  // The compiled hub: its local provider then starts dist/agentd/src/main.js, as in production.
  const { Hub } = (await import(pathToFileURL(DIST_HUB).href)) as HubModule;
  const hub = new Hub(
    {
      dataDir: join(dir, 'hub'),
      grpcPort: 0,
      apiPort: 0,
      heartbeatIntervalMs: PRODUCTION.heartbeatIntervalMs,
      localRuntime: 'openclaw',
      localRuntimeRoot: runtimeRoot,
      // No probe/poll overrides: agentd uses its production defaults. NODE_OPTIONS is agentd's alone (the gateway gets a clean environment).
      localAgentEnv: { ...o.agentdEnv, NODE_OPTIONS: o.agentdNodeOptions },
    },
    (r) => live.logs.push(r),
  );
  live.hub = hub;
  const endpoints = await hub.start();
  const token = readFileSync(endpoints.adminTokenFile, 'utf8').trim();
  progress(`hub (dist) api ${endpoints.apiUrl} grpc ${endpoints.grpcAddress}`);
  await api(endpoints.apiUrl, token, 'POST', '/v1/planes', {
    name: PLANE,
    infraProvider: 'local',
    models: {
      tiers: { haiku: 'fakeai/fake-1', sonnet: 'fakeai/fake-1', opus: 'fakeai/fake-1' },
      providers: { fakeai: { baseUrl, api: 'openai-completions', apiKeyEnv: 'FAKEAI_API_KEY', models: [{ id: 'fake-1', name: 'Fake 1', cost: { input: 3, output: 15 } }] } },
    },
  });

  const perAgent: AgentResult[] = [];
  for (let i = 0; i < o.agents; i++) {
    const name = `bench-${i}`;
    progress(`${name}: adding (${i + 1}/${o.agents})`);
    const r = await measureAgent(o, hub, endpoints.apiUrl, token, name, failures, warnings);
    perAgent.push(r);
    if (r.phases.greenS === null) break;
  }

  const measured = perAgent.flatMap((r) => (r.idle ? [r.idle] : []));
  const green = stats(perAgent.map((r) => r.phases.greenS ?? NaN));
  const rss = stats(measured.map((m) => m.agentd.rssMb));
  const cpu = stats(measured.map((m) => m.agentdCpuPercent));
  const allGreen = perAgent.length === o.agents && perAgent.every((r) => r.phases.greenS !== null);
  return {
    agents: o.agents,
    idleS: o.idleS,
    node: process.version,
    agentdEntry: perAgent[0]?.agentdEntry ?? '',
    agentdNodeOptions: o.agentdNodeOptions,
    agentdEnv: o.agentdEnv,
    intervals: PRODUCTION,
    runtimeCheckS: round(runtimeCheckS),
    provisionToGreenS: { ...green, targetS: TARGET.greenS, met: allGreen && green.max <= TARGET.greenS },
    splitMedianS: {
      agentdUp: median(perAgent.map((r) => r.phases.agentdUpS)),
      enrolled: median(perAgent.map((r) => r.phases.enrolledS)),
      connected: median(perAgent.map((r) => r.phases.connectedS)),
      gatewaySpawned: median(perAgent.map((r) => r.phases.gatewaySpawnedS)),
      gatewayReady: median(perAgent.map((r) => r.phases.gatewayReadyS)),
      green: green.median,
    },
    agentdRssMb: {
      ...rss,
      peakMax: stats(measured.map((m) => m.agentd.peakRssMb)).max,
      anonMedian: median(measured.map((m) => m.agentd.anonMb)),
      fileMedian: median(measured.map((m) => m.agentd.fileMb)),
      atGreenMedian: median(measured.map((m) => m.agentdAtGreen.rssMb)),
      targetMb: TARGET.agentdRssMb,
      met: measured.length > 0 && rss.max <= TARGET.agentdRssMb,
    },
    agentdIdleCpuPercent: { ...cpu, targetPercent: TARGET.agentdCpuPercent, met: measured.length > 0 && cpu.max <= TARGET.agentdCpuPercent },
    gateway: {
      rssMbMedian: median(measured.map((m) => m.gatewayRssMb)),
      groupRssMbMedian: median(measured.map((m) => m.gatewayGroupRssMb)),
      processes: Math.max(0, ...measured.map((m) => m.gatewayGroupProcesses)),
      idleCpuPercentMedian: median(measured.map((m) => m.gatewayCpuPercent)),
    },
    perAgent,
    ok: allGreen && failures.length === 0,
    failures,
    warnings,
  };
}

/** A figure for the text block: "n/a" where nothing was measured. */
function fig(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? String(n) : 'n/a';
}

function figureLines(r: Report): string[] {
  const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');
  const g = r.provisionToGreenS;
  const sp = r.splitMedianS;
  const mem = r.agentdRssMb;
  const cpu = r.agentdIdleCpuPercent;
  const tried = r.perAgent.length;
  const idled = r.perAgent.filter((a) => a.idle).length;
  const env = Object.entries(r.agentdEnv).map(([k, v]) => `${k}=${v}`);
  return [
    `agent bench: ${r.agents} agent(s) one after another, agentd ${r.agentdEntry ? r.agentdEntry.slice(REPO.length) : '?'} on node ${r.node}` +
      (r.agentdNodeOptions ? ` with NODE_OPTIONS="${r.agentdNodeOptions}"` : '') +
      (env.length ? ` and ${env.join(' ')}` : '') +
      `, production intervals (heartbeat ${r.intervals.heartbeatIntervalMs / 1000} s, HTTP probe ${r.intervals.httpProbeMs / 1000} s,` +
      ` RPC poll ${r.intervals.rpcPollMs / 1000} s), idle window ${r.idleS} s`,
    `  provision-to-green  min ${fig(g.min)} s, median ${fig(g.median)} s, max ${fig(g.max)} s  [target <= ${g.targetS} s, worst of ${tried}: ${verdict(g.met)}]`,
    `    split (median, s after the POST): agentd up ${fig(sp.agentdUp)}, enrolled ${fig(sp.enrolled)}, connected ${fig(sp.connected)},` +
      ` gateway spawned ${fig(sp.gatewaySpawned)}, gateway ready ${fig(sp.gatewayReady)}, green ${fig(sp.green)}`,
    `    per agent: ${r.perAgent.map((a) => `${a.name} ${a.phases.greenS === null ? 'not green' : `${a.phases.greenS} s`}`).join(', ')}`,
    `  agentd RSS          min ${fig(mem.min)} MB, median ${fig(mem.median)} MB, max ${fig(mem.max)} MB after ${r.idleS} s idle` +
      ` (median anon ${fig(mem.anonMedian)} MB + file-backed ${fig(mem.fileMedian)} MB; ${fig(mem.atGreenMedian)} MB at green), peak VmHWM max ${fig(mem.peakMax)} MB` +
      `  [target <= ${mem.targetMb} MB, worst of ${idled}: ${verdict(mem.met)}]`,
    `  agentd idle CPU     min ${fig(cpu.min)} %, median ${fig(cpu.median)} %, max ${fig(cpu.max)} % of a core over ${r.idleS} s` +
      `  [target <= ${cpu.targetPercent} %, worst of ${idled}: ${verdict(cpu.met)}]`,
    `  gateway (OpenClaw's, for context)  RSS median ${fig(r.gateway.rssMbMedian)} MB (process group: ${fig(r.gateway.groupRssMbMedian)} MB in ${r.gateway.processes} process(es)),` +
      ` idle CPU median ${fig(r.gateway.idleCpuPercentMedian)} % of a core`,
    `  runtime check ${r.runtimeCheckS} s (not part of provision-to-green); agent removal ${r.perAgent.map((a) => (a.removeS === null ? '-' : `${a.removeS} s`)).join(', ')}`,
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
