import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, openSync, closeSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../../../common/src/backoff.ts';
import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { ensureDir, writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { PINNED_RUNTIME } from '../../../common/src/runtime/pins.ts';
import { RuntimeManager } from '../../../common/src/runtime/runtime-manager.ts';
import type { AgentComputeSpec, AgentInstance, AgentStatus, InfraProvider } from './infra-provider.ts';

/**
 * V8 settings for agentd, measured with bench:agent: a 1 MB young generation and
 * one V8 worker thread save ~10 MB of resident memory at no measurable CPU cost
 * for a daemon that mostly waits. The systemd unit uses the same flags.
 */
export const AGENTD_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'] as const;

/** agentd's entry point, beside this file in the same tree (src/*.ts or dist/*.js). */
const AGENTD_MAIN = fileURLToPath(new URL(`../../../agentd/src/main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

interface InstanceFile {
  agentId: string;
  plane: string;
  agentName: string;
  machineType: string;
  labels: Record<string, string>;
}

export interface LocalProviderOptions {
  /** Root for agent directories: <root>/<plane>/<agent>/ */
  root: string;
  log: Logger;
  /** How long agentd gets to shut down before SIGKILL. */
  stopTimeoutMs?: number;
  /** Extra environment for agentd (tests shorten intervals with it). */
  env?: Record<string, string>;
  /** What local agentd processes supervise: the real gateway (default) or a placeholder child. */
  runtime?: 'openclaw' | 'placeholder';
  /** Shared by every local agent, so the pinned runtime is downloaded once per host. */
  runtimeRoot?: string;
  /** Seconds between gateway HTTP probes / RPC polls (tests shorten them). */
  probeIntervalMs?: number;
  rpcIntervalMs?: number;
  /** The OpenClaw release new agents start on (default: agentd's pin). */
  openclawVersion?: string;
  /** agentd `sync` settings for new agents (tests shorten schedules with them). */
  sync?: Record<string, string | number | boolean>;
}

/**
 * The embedded infra provider: each agent is an agentd process on this host,
 * in its own process group, with its own directory (config, state, log). The
 * processes outlive the hub, as VMs would; `reconcile` restarts the ones that
 * should be running after a hub start.
 */
export class LocalProvider implements InfraProvider {
  readonly name = 'local';
  readonly canRestart = true;
  readonly #root: string;
  readonly #log: Logger;
  readonly #stopTimeoutMs: number;
  readonly #env: Record<string, string>;
  readonly #byId = new Map<string, string>();
  readonly #o: LocalProviderOptions;

  constructor(options: LocalProviderOptions) {
    this.#o = options;
    this.#root = options.root;
    this.#log = options.log.child('local-infra');
    // agentd's own stop deadline defaults to 25 s; give it that plus a margin.
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 35_000;
    this.#env = options.env ?? {};
    ensureDir(this.#root, 0o700);
    this.#index();
  }

  #index(): void {
    for (const plane of safeReaddir(this.#root)) {
      for (const name of safeReaddir(join(this.#root, plane))) {
        const file = join(this.#root, plane, name, 'instance.json');
        if (!existsSync(file)) continue;
        const inst = JSON.parse(readFileSync(file, 'utf8')) as InstanceFile;
        this.#byId.set(inst.agentId, join(this.#root, plane, name));
      }
    }
  }

  #dir(agentId: string): string {
    const dir = this.#byId.get(agentId);
    if (!dir) throw new PlaneError(ErrorCode.NotFound, `no local instance for agent ${agentId}`);
    return dir;
  }

  agentDir(agentId: string): string {
    return this.#dir(agentId);
  }

  get runtimeKind(): 'openclaw' | 'placeholder' {
    return this.#o.runtime ?? 'openclaw';
  }

  get runtimeRoot(): string {
    return this.#o.runtimeRoot ?? join(this.#root, '..', 'runtime');
  }

  /**
   * Installs the pinned runtime into the shared root once, with progress, so
   * agents started afterwards find it ready instead of racing to download it.
   */
  async prepareRuntime(onProgress: (message: string) => void, signal?: AbortSignal): Promise<void> {
    if (this.runtimeKind !== 'openclaw') return;
    const manager = new RuntimeManager({ root: this.runtimeRoot, log: this.#log, onProgress });
    await manager.install({ node: PINNED_RUNTIME.node, openclaw: PINNED_RUNTIME.openclaw }, signal);
  }

  /** A loopback port no other local agent's gateway uses, and free right now. */
  async #gatewayPort(): Promise<number> {
    const taken = new Set<number>();
    for (const dir of this.#byId.values()) {
      try {
        const cfg = JSON.parse(readFileSync(join(dir, 'agentd.json'), 'utf8')) as { runtime?: { gatewayPort?: number } };
        if (cfg.runtime?.gatewayPort) taken.add(cfg.runtime.gatewayPort);
      } catch {
        // unreadable config: nothing to reserve
      }
    }
    for (let i = 0; i < 20; i++) {
      const port = await new Promise<number>((resolve, reject) => {
        const srv = createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
          const p = (srv.address() as { port: number }).port;
          srv.close(() => resolve(p));
        });
      });
      if (!taken.has(port)) return port;
    }
    throw new PlaneError(ErrorCode.Unavailable, 'could not find a free loopback port for the gateway');
  }

  async provision(spec: AgentComputeSpec): Promise<AgentInstance> {
    const dir = join(this.#root, spec.plane, spec.agentName);
    if (existsSync(join(dir, 'instance.json'))) {
      throw new PlaneError(ErrorCode.AlreadyExists, `a local instance already exists at ${dir}`);
    }
    ensureDir(dir, 0o700);
    ensureDir(join(dir, 'state'), 0o700);
    writeFileAtomic(join(dir, 'enrollment.bundle'), spec.bootstrap.enrollmentBundle, 0o600);
    const runtime =
      this.runtimeKind === 'openclaw'
        ? {
            kind: 'openclaw',
            root: this.runtimeRoot,
            nodeVersion: PINNED_RUNTIME.node,
            openclawVersion: spec.openclawVersion ?? this.#o.openclawVersion ?? PINNED_RUNTIME.openclaw,
            workspaceDir: join(dir, 'workspace'),
            gatewayPort: await this.#gatewayPort(),
            ...(this.#o.probeIntervalMs ? { probeIntervalMs: this.#o.probeIntervalMs } : {}),
            ...(this.#o.rpcIntervalMs ? { rpcIntervalMs: this.#o.rpcIntervalMs } : {}),
          }
        : { kind: 'placeholder', workspaceDir: join(dir, 'workspace') };
    const config = {
      plane: spec.plane,
      agent: spec.agentName,
      stateDir: join(dir, 'state'),
      enrollmentBundleFile: join(dir, 'enrollment.bundle'),
      runtime,
      ...(this.#o.sync ? { sync: this.#o.sync } : {}),
    };
    writeFileAtomic(join(dir, 'agentd.json'), `${JSON.stringify(config, null, 2)}\n`, 0o600);
    const inst: InstanceFile = { agentId: spec.agentId, plane: spec.plane, agentName: spec.agentName, machineType: 'local-process', labels: spec.labels };
    writeFileAtomic(join(dir, 'instance.json'), `${JSON.stringify(inst, null, 2)}\n`, 0o600);
    this.#byId.set(spec.agentId, dir);
    this.#spawn(dir);
    this.#log.info('provisioned local agent', { agentId: spec.agentId, plane: spec.plane, agent: spec.agentName, dir });
    return this.#instance(dir);
  }

  #spawn(dir: string): number {
    const logFd = openSync(join(dir, 'agentd.log'), 'a', 0o600);
    try {
      // detached: agentd leads its own process group and outlives the hub, like a VM.
      const child = spawn(process.execPath, [...AGENTD_NODE_FLAGS, AGENTD_MAIN, 'run', '--config', join(dir, 'agentd.json')], {
        cwd: dir,
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, ...this.#env },
      });
      if (child.pid === undefined) throw new PlaneError(ErrorCode.Internal, `could not start agentd in ${dir}`);
      child.unref();
      writeFileAtomic(join(dir, 'agentd.pid'), `${child.pid}\n`, 0o600);
      return child.pid;
    } finally {
      closeSync(logFd);
    }
  }

  /** The pid of this agent's agentd if it is alive and really is that agentd (pids get reused). */
  #livePid(dir: string): number | undefined {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(join(dir, 'agentd.pid'), 'utf8'), 10);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(join(dir, 'agentd.json'))) return undefined;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) Z /.test(stat)) return undefined;
      return pid;
    } catch {
      return undefined;
    }
  }

  /**
   * The gateway of this agent if it is still alive without its agentd (an agentd
   * killed with SIGKILL cannot stop it). Identified by its pid file and by its
   * environment pointing into this agent's directory, since pids get reused.
   */
  #orphanGatewayPid(dir: string): number | undefined {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(join(dir, 'state', 'run', 'gateway.pid'), 'utf8'), 10);
    } catch {
      return undefined;
    }
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return env.includes(`OPENCLAW_STATE_DIR=${join(dir, 'state')}`) || env.includes(`PLACEHOLDER_READY_FILE=${join(dir, 'state')}`) || cmd.includes(dir) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async #stopOrphanGateway(dir: string): Promise<void> {
    const pid = this.#orphanGatewayPid(dir);
    if (pid === undefined) return;
    this.#log.warn('stopping a gateway left running by a killed agentd', { dir, pid });
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + this.#stopTimeoutMs;
    while (Date.now() < deadline && this.#orphanGatewayPid(dir) !== undefined) await sleep(100);
    if (this.#orphanGatewayPid(dir) !== undefined) signalGroup(pid, 'SIGKILL');
  }

  async #stopDir(dir: string): Promise<void> {
    const pid = this.#livePid(dir);
    if (pid === undefined) return this.#stopOrphanGateway(dir);
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + this.#stopTimeoutMs;
    while (Date.now() < deadline) {
      if (this.#livePid(dir) === undefined) return;
      await sleep(50);
    }
    this.#log.warn('agentd did not stop in time; killing its process group', { dir, pid });
    signalGroup(pid, 'SIGKILL');
    while (this.#livePid(dir) !== undefined) await sleep(20);
    await this.#stopOrphanGateway(dir);
  }

  async deprovision(agentId: string): Promise<void> {
    const dir = this.#byId.get(agentId);
    if (!dir) return;
    await this.#stopDir(dir);
    rmSync(dir, { recursive: true, force: true });
    this.#byId.delete(agentId);
    this.#log.info('deprovisioned local agent', { agentId, dir });
  }

  async restart(agentId: string): Promise<void> {
    const dir = this.#dir(agentId);
    await this.#stopDir(dir);
    this.#spawn(dir);
  }

  async stop(agentId: string): Promise<void> {
    await this.#stopDir(this.#dir(agentId));
  }

  async start(agentId: string): Promise<void> {
    const dir = this.#dir(agentId);
    if (this.#livePid(dir) === undefined) this.#spawn(dir);
  }

  /** Stops every local agentd (the main job's Ctrl-C); directories stay. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#byId.values()].map((dir) => this.#stopDir(dir)));
  }

  async status(agentId: string): Promise<AgentStatus> {
    const dir = this.#byId.get(agentId);
    if (!dir) return { agentId, state: 'missing', detail: 'no local instance' };
    const pid = this.#livePid(dir);
    return pid === undefined ? { agentId, state: 'stopped', detail: 'agentd is not running' } : { agentId, state: 'running', detail: `agentd pid ${pid}` };
  }

  #instance(dir: string): AgentInstance {
    const inst = JSON.parse(readFileSync(join(dir, 'instance.json'), 'utf8')) as InstanceFile;
    const pid = this.#livePid(dir);
    return {
      agentId: inst.agentId,
      plane: inst.plane,
      agentName: inst.agentName,
      provider: this.name,
      instanceRef: pid === undefined ? dir : `${dir} (pid ${pid})`,
      state: pid === undefined ? 'stopped' : 'running',
      machineType: inst.machineType,
      labels: inst.labels,
    };
  }

  async listInstances(plane: string): Promise<AgentInstance[]> {
    return [...this.#byId.values()].filter((dir) => dir.startsWith(join(this.#root, plane) + '/')).map((dir) => this.#instance(dir));
  }

  async resize(agentId: string, spec: Partial<Pick<AgentComputeSpec, 'machineType' | 'diskSizeGb' | 'labels'>>): Promise<void> {
    // A local process has no machine type or disk size; labels are recorded for cost attribution.
    const dir = this.#dir(agentId);
    const inst = JSON.parse(readFileSync(join(dir, 'instance.json'), 'utf8')) as InstanceFile;
    if (spec.labels) inst.labels = spec.labels;
    writeFileAtomic(join(dir, 'instance.json'), `${JSON.stringify(inst, null, 2)}\n`, 0o600);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
