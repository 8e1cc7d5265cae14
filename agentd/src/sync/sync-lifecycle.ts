import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { Logger } from '../../../common/src/logger.ts';

/**
 * Where a BrainSync is in its life: made (`new`), restoring at boot
 * (`booting`), restored and not yet watching (`booted`), waiting for its
 * watcher (`starting`), watching (`running`), and stopping for good.
 * What it is doing meanwhile (syncing, restoring a snapshot, failing) is its
 * activity, shown in its status; this is only its life.
 */
export type SyncPhase = 'new' | 'booting' | 'booted' | 'starting' | 'running' | 'stopping' | 'stopped';

/** The one table of moves. A failed boot goes back to `new`, so a caller may try again; stop is allowed from anywhere. */
export const SYNC_TRANSITIONS: Readonly<Record<SyncPhase, readonly SyncPhase[]>> = {
  new: ['booting', 'stopping'],
  booting: ['booted', 'new', 'stopping'],
  booted: ['starting', 'stopping'],
  starting: ['running', 'stopping'],
  running: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

const AFTER_BOOT = ['booted', 'starting', 'running'] as const;
const EVER_AFTER_BOOT = [...AFTER_BOOT, 'stopping', 'stopped'] as const;

/**
 * In which phases each call may run. Pushes and checks may run once stopped
 * (the final push comes after the watcher stops; a check then does nothing);
 * nothing may touch the bucket before the boot restore has claimed HEAD.
 * `start` while starting or running returns the start under way, and `stop`
 * is allowed in every phase and returns the one stop.
 */
export const SYNC_CALLS = {
  restoreOnBoot: ['new'],
  start: AFTER_BOOT,
  leaseGranted: AFTER_BOOT,
  rekey: AFTER_BOOT,
  restoreSnapshot: AFTER_BOOT,
  push: EVER_AFTER_BOOT,
  check: EVER_AFTER_BOOT,
  prune: EVER_AFTER_BOOT,
  finalSync: EVER_AFTER_BOOT,
} as const satisfies Record<string, readonly SyncPhase[]>;

export type SyncCall = keyof typeof SYNC_CALLS;

/** A call made in a phase that does not allow it (see SYNC_CALLS), or a move the table does not list. */
export class SyncStateError extends PlaneError {
  readonly phase: SyncPhase;
  constructor(what: string, phase: SyncPhase, allowed: readonly SyncPhase[]) {
    super(ErrorCode.FailedPrecondition, `brain sync: ${what} is not allowed while ${phase}${allowed.length ? ` (only while ${allowed.join(', ')})` : ''}`);
    this.phase = phase;
  }
}

/** A BrainSync's phase, moved only along SYNC_TRANSITIONS, every move logged. */
export class SyncLifecycle {
  #phase: SyncPhase = 'new';
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  get phase(): SyncPhase {
    return this.#phase;
  }

  /** Stopping or stopped: no more watching, schedules or background pushes. */
  get halted(): boolean {
    return this.#phase === 'stopping' || this.#phase === 'stopped';
  }

  is(...phases: SyncPhase[]): boolean {
    return phases.includes(this.#phase);
  }

  to(next: SyncPhase): void {
    const from = this.#phase;
    const allowed = SYNC_TRANSITIONS[from];
    if (!allowed.includes(next)) throw new SyncStateError(`moving to ${next}`, from, allowed);
    this.#phase = next;
    this.#log.info('brain sync phase', { from, to: next });
  }

  /** Throws SyncStateError unless `call` is allowed now. */
  check(call: SyncCall): void {
    const allowed: readonly SyncPhase[] = SYNC_CALLS[call];
    if (!allowed.includes(this.#phase)) throw new SyncStateError(`${call}()`, this.#phase, allowed);
  }
}
