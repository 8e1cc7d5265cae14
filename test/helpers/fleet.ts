import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LogRecord } from '../../common/src/logger.ts';
import { Hub, type HubEndpoints } from '../../hub/src/hub.ts';
import type { HubOptions } from '../../hub/src/hub-options.ts';

export interface AgentJson {
  id: string;
  plane: string;
  name: string;
  connected: boolean;
  bootId: string | null;
  health: { color: 'green' | 'yellow' | 'red'; reason: string };
  heartbeat: { ageMs: number; heartbeat: { gateway: { state: string; restartCount: number; runtime: string; pid: number } | null; paused: boolean } } | null;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** A real hub in this process on loopback ports, with its own temp data dir; local agentd processes are real. */
export class TestFleet {
  readonly dataDir: string;
  readonly logs: LogRecord[] = [];
  hub: Hub;
  endpoints!: HubEndpoints;
  adminToken = '';
  readonly heartbeatIntervalMs: number;
  readonly #options: Partial<HubOptions>;
  /** A hub started with startInChild(): its own process, which a test may SIGKILL. */
  child: ChildProcess | undefined;

  constructor(options: Partial<HubOptions> = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'planes-test-'));
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 300;
    this.#options = options;
    this.hub = this.#newHub({});
  }

  #newHub(extra: Partial<HubOptions>): Hub {
    return new Hub(
      { dataDir: this.dataDir, grpcPort: 0, apiPort: 0, heartbeatIntervalMs: this.heartbeatIntervalMs, heartbeatFlushIntervalMs: 100, localRuntime: 'placeholder', ...this.#options, ...extra },
      (r) => this.logs.push(r),
    );
  }

  async start(): Promise<this> {
    this.endpoints = await this.hub.start();
    this.adminToken = readFileSync(this.endpoints.adminTokenFile, 'utf8').trim();
    return this;
  }

  /**
   * Starts the hub in a child process instead (same options and data dir): a test can
   * kill it with SIGKILL, as a crash would, then start() one in this process on the same
   * data dir and gRPC port with restartInProcess().
   */
  async startInChild(extra: Partial<HubOptions> = {}): Promise<this> {
    const options = { dataDir: this.dataDir, grpcPort: 0, apiPort: 0, heartbeatIntervalMs: this.heartbeatIntervalMs, heartbeatFlushIntervalMs: 100, localRuntime: 'placeholder', ...this.#options, ...extra };
    const child = spawn(process.execPath, ['test/helpers/hub-child.ts', JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    this.endpoints = await new Promise<HubEndpoints>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as HubEndpoints);
      });
      child.once('exit', (code) => reject(new Error(`hub child exited with ${code} before it ran`)));
    });
    this.adminToken = readFileSync(this.endpoints.adminTokenFile, 'utf8').trim();
    return this;
  }

  /** A child hub still running closes (SIGTERM) as a normal stop would. */
  async #stopChild(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** SIGKILLs the child hub (nothing of it runs after this resolves); its agentd processes live on. */
  async killChild(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** A hub in this process on the same data dir and gRPC port, after killChild() (or a SIGTERM to a child still running). */
  async restartInProcess(): Promise<void> {
    const port = Number(this.endpoints.grpcAddress.split(':').pop());
    await this.#stopChild();
    this.hub = this.#newHub({ grpcPort: port });
    await this.start();
  }

  /** Closes the hub of this process and starts one in a child process on the same data dir and gRPC port. */
  async restartInChild(): Promise<void> {
    const port = Number(this.endpoints.grpcAddress.split(':').pop());
    await this.#stopChild();
    await this.hub.close();
    this.hub = this.#newHub({});
    await this.startInChild({ grpcPort: port });
  }

  /** Closes the hub and starts a new one on the same data dir and gRPC port (agents keep dialling it). */
  async restartHub(): Promise<void> {
    const port = Number(this.endpoints.grpcAddress.split(':').pop());
    await this.hub.close();
    this.hub = this.#newHub({ grpcPort: port });
    await this.start();
  }

  async api<T = unknown>(method: string, path: string, body?: unknown, token = this.adminToken, rawBody?: string): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined || rawBody !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.endpoints.apiUrl}${path}`, {
      method,
      headers,
      ...(rawBody !== undefined ? { body: rawBody } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async createPlane(name = 'test-plane'): Promise<void> {
    const r = await this.api('POST', '/v1/planes', { name, infraProvider: 'local' });
    if (r.status !== 201) throw new Error(`create plane: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** Secrets set on every agent right after addAgent creates it (through PUT .../secrets/KEY). */
  agentSecrets: Record<string, string> = {};

  async addAgent(plane: string, name: string): Promise<AgentJson> {
    const r = await this.api<AgentJson>('POST', `/v1/planes/${plane}/agents`, { name, ownerEmail: `${name}@example.com` });
    if (r.status !== 201) throw new Error(`add agent: ${r.status} ${JSON.stringify(r.body)}`);
    for (const [key, value] of Object.entries(this.agentSecrets)) {
      const s = await this.api('PUT', `/v1/planes/${plane}/agents/${name}/secrets/${key}`, { value });
      if (s.status !== 200) throw new Error(`set secret ${key}: ${s.status} ${JSON.stringify(s.body)}`);
    }
    return r.body;
  }

  async agent(plane: string, name: string): Promise<AgentJson> {
    const r = await this.api<AgentJson>('GET', `/v1/planes/${plane}/agents/${name}`);
    if (r.status !== 200) throw new Error(`get agent: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Polls until `pred` holds for the agent, or throws with the last state seen. */
  async waitFor(plane: string, name: string, pred: (a: AgentJson) => boolean, timeoutMs = 30_000): Promise<AgentJson> {
    const deadline = Date.now() + timeoutMs;
    let last: AgentJson | undefined;
    while (Date.now() < deadline) {
      last = await this.agent(plane, name);
      if (pred(last)) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${plane}/${name}; last: ${JSON.stringify(last?.health)} connected=${last?.connected}`);
  }

  agentDir(plane: string, name: string): string {
    return join(this.dataDir, 'local-agents', plane, name);
  }

  /** The loopback port of a local agent's gateway, from the agentd config the provider wrote. */
  /** A local agent's OpenClaw workspace (the same absolute path on every machine it runs on). */
  workspaceDir(plane: string, name: string): string {
    return join(this.agentDir(plane, name), 'workspace');
  }

  /** A local agent's OpenClaw agent database (sessions, transcripts, memory index). */
  agentDbPath(plane: string, name: string): string {
    return join(this.agentDir(plane, name), 'state', 'openclaw', 'agents', 'main', 'agent', 'openclaw-agent.sqlite');
  }

  gatewayPort(plane: string, name: string): number {
    return (JSON.parse(readFileSync(join(this.agentDir(plane, name), 'agentd.json'), 'utf8')) as { runtime: { gatewayPort: number } }).runtime.gatewayPort;
  }

  /** Environment for running the planes CLI against this hub with the admin token file. */
  cliEnv(): NodeJS.ProcessEnv {
    return { PATH: process.env['PATH'], PLANES_HUB: this.endpoints.apiUrl, PLANES_TOKEN_FILE: this.endpoints.adminTokenFile };
  }

  agentdPid(plane: string, name: string): number {
    return Number.parseInt(readFileSync(join(this.agentDir(plane, name), 'agentd.pid'), 'utf8'), 10);
  }

  /** When no hub of this process runs (a test failed after killChild()): SIGKILL every local agentd's process group. */
  #killLocalAgents(): void {
    const root = join(this.dataDir, 'local-agents');
    for (const plane of existsSync(root) ? readdirSync(root) : []) {
      for (const name of readdirSync(join(root, plane))) {
        const file = join(root, plane, name, 'agentd.pid');
        if (!existsSync(file)) continue;
        try {
          process.kill(-Number.parseInt(readFileSync(file, 'utf8'), 10), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  async destroy(): Promise<void> {
    try {
      await this.killChild();
      if (this.hub.state === 'running') await this.hub.localProvider.stopAll();
      else if (this.child) this.#killLocalAgents();
    } finally {
      await this.hub.close();
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Runs a command without blocking this process: the hub under test lives in it,
 * and a synchronous child would stall its event loop (and the agents' heartbeat acks).
 */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
