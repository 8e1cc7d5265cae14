/**
 * A real hub process and N simulated agents in worker processes, on loopback:
 * what bench:hub and bench:console both measure against. Everything started
 * here is undone by cleanup(), however the run ends.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './proc-stats.ts';
import type { ParentMessage, ReadyMessage, RequestMessage, WorkerMessage } from './protocol.ts';

const HUB_BIN = fileURLToPath(new URL('../../bin/hub.js', import.meta.url));
const WORKER = fileURLToPath(new URL('./sim-worker.ts', import.meta.url));
export const PLANE = 'bench';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let prefix = 'bench';
/** Progress lines on stderr, tagged with the benchmark's name. */
export function progress(text: string): void {
  process.stderr.write(`[${prefix}] ${text}\n`);
}
export function setProgressPrefix(name: string): void {
  prefix = name;
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, task: (item: T, i: number) => Promise<R>): Promise<R[]> {
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

export interface HubJson {
  apiUrl: string;
  grpcAddress: string;
  adminTokenFile: string;
  caFile: string;
  pid: number;
}

export class HubApi {
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
export class Worker {
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

/** Everything that must be undone however the run ends. */
export const live: { dir?: string; hub?: ChildProcess; workers: Worker[]; cleaning?: Promise<void> } = { workers: [] };

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

async function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (exited(p)) return true;
  return Promise.race([new Promise<boolean>((r) => p.once('exit', () => r(true))), sleep(ms).then(() => exited(p))]);
}

export function cleanup(): Promise<void> {
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

export function hubLogTail(lines = 15): string {
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

export interface SimFleetOptions {
  agents: number;
  intervalMs: number;
  workers: number;
  concurrency: number;
  /** Extra `hub serve` flags. */
  hubArgs?: string[];
}

export interface SimFleet {
  info: HubJson;
  api: HubApi;
  dir: string;
  nWorkers: number;
  /** Agent name by its ag_... id. */
  nameById: Map<string, string>;
  provisionS: number;
  connectS: number;
}

/** Starts the hub, provisions a manual plane of `agents`, and connects them all from the simulators. */
export async function startSimulatedFleet(o: SimFleetOptions, failures: string[]): Promise<SimFleet> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  live.dir = dir;

  // The hub logs JSON lines to stderr; keep them in a file (shown on failure) rather than on the terminal.
  const logFd = openSync(join(dir, 'hub.log'), 'a');
  const hub = spawn(
    process.execPath,
    [HUB_BIN, 'serve', '--data-dir', dir, '--grpc-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0', '--heartbeat-interval-ms', String(o.intervalMs), ...(o.hubArgs ?? [])],
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
  progress(`hub lists all ${o.agents} agents connected after ${round(connectS)} s`);

  return { info, api, dir, nWorkers, nameById, provisionS, connectS };
}
