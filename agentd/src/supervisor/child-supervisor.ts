import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Backoff, type BackoffOptions, sleep } from '../../../common/src/backoff.ts';
import { PlaneError } from '../../../common/src/errors.ts';
import { writeFileAtomic } from '../../../common/src/files.ts';
import type { Logger } from '../../../common/src/logger.ts';
import { cmdlineOf, groupAlive, signalGroup } from './process-group.ts';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  atMs: number;
}

export type SupervisorState =
  | { kind: 'stopped' }
  | { kind: 'starting'; pid: number; sinceMs: number }
  | { kind: 'running'; pid: number; sinceMs: number }
  | { kind: 'stopping'; pid: number }
  | { kind: 'backoff'; untilMs: number; lastExit: ExitInfo }
  | { kind: 'failed'; reason: string; lastExit?: ExitInfo };

export interface ChildSpec {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd: string;
}

export interface ChildSupervisorOptions {
  name: string;
  /** Builds the spec before every start (render and validate config here). A throw fails the start without a restart loop. */
  prepare: () => Promise<ChildSpec>;
  /** Resolves once the child is ready; rejects or hangs otherwise (bounded by startTimeoutMs). */
  waitReady: (pid: number, signal: AbortSignal) => Promise<void>;
  startTimeoutMs?: number;
  /** Drain budget between SIGTERM and SIGKILL. */
  stopTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** More than maxRestarts crashes within windowMs = a crash loop: stop restarting, report. */
  crashLoop?: { maxRestarts: number; windowMs: number };
  /** Exit codes that restarting cannot fix, with the reason to report. */
  fatalExitCodes?: Record<number, string>;
  /** Exit codes that are fatal only before the child first became ready (after that they are crashes). */
  startupFatalExitCodes?: Record<number, string>;
  /** Records the child's pid so a crashed agentd can clean up an orphan on its next start. */
  pidFile: string;
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  log: Logger;
}

interface SupervisorEvents {
  state: [SupervisorState];
  exit: [ExitInfo];
}

/**
 * Supervises one child as its own process group (consul-template child.go):
 * start counts only once `waitReady` resolves; a crash restarts with backoff;
 * a fatal exit code or a crash loop stops restarting and says why. stop() is
 * TERM to the group, the drain budget, then KILL; kill() is KILL now.
 */
export class ChildSupervisor extends EventEmitter<SupervisorEvents> {
  readonly #o: Required<Omit<ChildSupervisorOptions, 'onOutput' | 'backoff'>> & Pick<ChildSupervisorOptions, 'onOutput'>;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  #state: SupervisorState = { kind: 'stopped' };
  #desired: 'running' | 'stopped' = 'stopped';
  #child: ChildProcess | undefined;
  #exited: Promise<ExitInfo> | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  #readyAbort: AbortController | undefined;
  #crashes: number[] = [];
  #restartCount = 0;
  #lastError = '';
  #startedOnce = false;

  constructor(options: ChildSupervisorOptions) {
    super();
    this.#o = {
      startTimeoutMs: 60_000,
      stopTimeoutMs: 30_000,
      crashLoop: { maxRestarts: 5, windowMs: 120_000 },
      fatalExitCodes: {},
      startupFatalExitCodes: {},
      ...options,
    };
    this.#backoff = new Backoff({ initialDelayMs: 1000, maxDelayMs: 30_000, ...options.backoff });
    this.#log = options.log;
  }

  get state(): SupervisorState {
    return this.#state;
  }

  get restartCount(): number {
    return this.#restartCount;
  }

  get lastError(): string {
    return this.#lastError;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #set(state: SupervisorState): void {
    const from = this.#state.kind;
    this.#state = state;
    this.#log.info('child state', { child: this.#o.name, from, to: state.kind, ...('reason' in state ? { reason: state.reason } : {}) });
    this.emit('state', state);
  }

  /** Starts the child (if not already) and resolves once it is running, failed or backing off. */
  async start(): Promise<SupervisorState> {
    this.#desired = 'running';
    if (!this.#startedOnce) {
      this.#startedOnce = true;
      await this.#reapOrphan();
    }
    if (this.#state.kind === 'running' || this.#state.kind === 'starting') return this.#state;
    if (this.#state.kind === 'failed') this.#crashes = [];
    clearTimeout(this.#backoffTimer);
    await this.#launch();
    return this.#state;
  }

  /** A previous agentd may have died (kill -9) and left its child running: stop that group first. */
  async #reapOrphan(): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(this.#o.pidFile, 'utf8'), 10);
    } catch {
      return;
    }
    const cmd = Number.isInteger(pid) && pid > 1 ? cmdlineOf(pid) : undefined;
    if (cmd && groupAlive(pid)) {
      this.#log.warn('stopping an orphaned child left by a previous agentd', { child: this.#o.name, pid });
      signalGroup(pid, 'SIGTERM');
      const deadline = Date.now() + this.#o.stopTimeoutMs;
      while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
      if (groupAlive(pid)) signalGroup(pid, 'SIGKILL');
    }
    rmSync(this.#o.pidFile, { force: true });
  }

  async #launch(): Promise<void> {
    let spec: ChildSpec;
    try {
      spec = await this.#o.prepare();
    } catch (err) {
      this.#lastError = PlaneError.from(err).message;
      this.#set({ kind: 'failed', reason: this.#lastError });
      return;
    }
    if (this.#desired !== 'running') return;
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid === undefined) {
      const reason = await new Promise<string>((resolve) => child.once('error', (e) => resolve(e.message)));
      this.#lastError = `cannot start ${spec.command}: ${reason}`;
      this.#set({ kind: 'failed', reason: this.#lastError });
      return;
    }
    this.#child = child;
    writeFileAtomic(this.#o.pidFile, `${pid}\n`, 0o600);
    for (const [stream, name] of [
      [child.stdout, 'stdout'],
      [child.stderr, 'stderr'],
    ] as const) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.#o.onOutput?.(line, name));
    }
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        const info = { code, signal, atMs: Date.now() };
        // The leader is gone; make sure no helper of its group lingers.
        signalGroup(pid, 'SIGKILL');
        rmSync(this.#o.pidFile, { force: true });
        if (this.#child === child) this.#child = undefined;
        this.emit('exit', info);
        resolve(info);
        this.#onExit(info);
      });
    });
    this.#set({ kind: 'starting', pid, sinceMs: Date.now() });

    const abort = new AbortController();
    this.#readyAbort = abort;
    const timer = setTimeout(() => abort.abort(new Error(`not ready within ${this.#o.startTimeoutMs} ms`)), this.#o.startTimeoutMs);
    try {
      await Promise.race([
        this.#o.waitReady(pid, abort.signal),
        this.#exited.then((e) => Promise.reject(new Error(`exited during start (${describeExit(e)})`))),
        new Promise((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true })),
      ]);
      if (this.#child === child && this.#state.kind === 'starting') {
        this.#backoff.reset();
        this.#set({ kind: 'running', pid, sinceMs: Date.now() });
      }
    } catch (err) {
      if (this.#child === child && this.#state.kind === 'starting') {
        this.#lastError = (err as Error).message;
        this.#log.warn('child failed to become ready; killing it', { child: this.#o.name, pid, reason: this.#lastError });
        signalGroup(pid, 'SIGKILL');
        await this.#exited;
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  #onExit(info: ExitInfo): void {
    if (this.#desired !== 'running' || this.#state.kind === 'stopping') {
      this.#set({ kind: 'stopped' });
      return;
    }
    const duringStart = this.#state.kind === 'starting';
    const fatal = info.code === null ? undefined : (this.#o.fatalExitCodes[info.code] ?? (duringStart ? this.#o.startupFatalExitCodes[info.code] : undefined));
    if (fatal) {
      this.#lastError = `exit ${info.code}: ${fatal}`;
      this.#set({ kind: 'failed', reason: this.#lastError, lastExit: info });
      return;
    }
    if (this.#state.kind === 'running' || !this.#lastError) this.#lastError = `crashed (${describeExit(info)})`;
    const now = Date.now();
    this.#crashes = this.#crashes.filter((t) => now - t < this.#o.crashLoop.windowMs).concat(now);
    if (this.#crashes.length > this.#o.crashLoop.maxRestarts) {
      this.#lastError = `crash loop: ${this.#crashes.length} exits within ${Math.round(this.#o.crashLoop.windowMs / 1000)} s; last: ${this.#lastError}`;
      this.#set({ kind: 'failed', reason: this.#lastError, lastExit: info });
      return;
    }
    const delay = this.#backoff.next();
    this.#set({ kind: 'backoff', untilMs: now + delay, lastExit: info });
    this.#backoffTimer = setTimeout(() => {
      if (this.#desired !== 'running') return;
      this.#restartCount += 1;
      void this.#launch();
    }, delay);
  }

  /** Graceful: SIGTERM to the group, wait the drain budget, then SIGKILL. Idempotent. */
  async stop(): Promise<void> {
    this.#desired = 'stopped';
    clearTimeout(this.#backoffTimer);
    const child = this.#child;
    const exited = this.#exited;
    if (!child?.pid || !exited) {
      if (this.#state.kind !== 'stopped' && this.#state.kind !== 'failed') this.#set({ kind: 'stopped' });
      return;
    }
    this.#readyAbort?.abort(new Error('stopping'));
    if (this.#state.kind !== 'stopping') this.#set({ kind: 'stopping', pid: child.pid });
    signalGroup(child.pid, 'SIGTERM');
    const timedOut = await Promise.race([exited.then(() => false), sleep(this.#o.stopTimeoutMs).then(() => true)]);
    if (timedOut) {
      this.#log.warn('child did not drain in time; killing its group', { child: this.#o.name, pid: child.pid, stopTimeoutMs: this.#o.stopTimeoutMs });
      signalGroup(child.pid, 'SIGKILL');
      await exited;
    }
    await waitGroupGone(child.pid);
  }

  /** Immediate: SIGKILL to the group. Idempotent. */
  async kill(): Promise<void> {
    this.#desired = 'stopped';
    clearTimeout(this.#backoffTimer);
    const child = this.#child;
    if (!child?.pid || !this.#exited) return;
    this.#set({ kind: 'stopping', pid: child.pid });
    signalGroup(child.pid, 'SIGKILL');
    await this.#exited;
    await waitGroupGone(child.pid);
  }

  /** Stop (gracefully) and start again; clears a failed state and the crash window. */
  async restart(): Promise<SupervisorState> {
    await this.stop();
    this.#crashes = [];
    this.#restartCount += 1;
    return this.start();
  }
}

/**
 * Helpers of the group were SIGKILLed with the leader but may take a moment to
 * be reaped (a zombie still counts as a group member). A stop is complete only
 * when nothing of the group is left, so the next start cannot collide with it.
 */
async function waitGroupGone(pgid: number, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid) && Date.now() < deadline) {
    signalGroup(pgid, 'SIGKILL');
    await sleep(20);
  }
}

export function describeExit(e: ExitInfo): string {
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code ?? 'unknown'}`;
}
