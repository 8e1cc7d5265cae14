import type { Logger } from '../../../common/src/logger.ts';
import { PlaneError } from '../../../common/src/errors.ts';
import type { AgentMessage, Command__Output, CommandLedger, CommandResult, CommandStatus } from '../../../proto/index.ts';
import type { CommandJournal, JournalEntry } from '../command-journal.ts';

export interface CommandContext {
  commandId: string;
  signal: AbortSignal;
}

export type CommandHandler = (args: Record<string, unknown>, ctx: CommandContext) => Promise<unknown>;

/**
 * A handler and how it runs. Most commands change the gateway and run one at a
 * time; `concurrent` ones (log streaming) only read and must not hold the queue.
 */
export interface CommandSpec {
  run: CommandHandler;
  concurrent?: boolean;
  /** Overrides the runner's default timeout (a followed log stream lives longer). */
  timeoutMs?: number;
}

type Result = NonNullable<JournalEntry['result']>;

/**
 * The ledger in Hello: this many newest journal entries, outputs up to this size
 * and all of them together up to LEDGER_MAX_BYTES (the hub takes messages up to
 * 4 MiB; a Hello it refused would keep the agent off the hub); log streams are left out.
 */
export const LEDGER_MAX_ENTRIES = 200;
export const LEDGER_MAX_OUTPUT_BYTES = 8 * 1024;
export const LEDGER_MAX_BYTES = 1024 * 1024;
/** An entry without its output: ids, status, times and an error cut to 500 characters (at most 2000 bytes). */
const LEDGER_ENTRY_BYTES = 128 + 2000;
const LEDGER_MAX_ERROR_CHARS = 500;
const LEDGER_EXCLUDED_KINDS = ['logs', 'logs-stop'];

export interface CommandRunnerOptions {
  journal: CommandJournal;
  bootId: string;
  handlers: ReadonlyMap<string, CommandHandler | CommandSpec>;
  /** Sends to the hub; returns false while disconnected (the hub will redeliver). */
  send: (message: AgentMessage) => boolean;
  timeoutMs: number;
  log: Logger;
}

/**
 * Applies hub commands exactly once. The journal is consulted before anything
 * runs: a known id is answered from its record (or reported INTERRUPTED if a
 * previous agentd died while running it); a new id is marked started on disk,
 * acknowledged, run, and its result recorded before it is sent.
 */
export class CommandRunner {
  readonly #o: CommandRunnerOptions;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  /** Commands run one at a time, in arrival order: a resume must not overtake the pause before it. */
  #queue: Promise<void> = Promise.resolve();
  #accepting = true;

  constructor(options: CommandRunnerOptions) {
    this.#o = options;
  }

  get kinds(): string[] {
    return [...this.#o.handlers.keys()];
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  handle(cmd: Command__Output): void {
    const log = this.#o.log.child('commands', { commandId: cmd.id, kind: cmd.kind });
    if (this.#inFlight.has(cmd.id)) return; // redelivered while still running: its result will follow
    const known = this.#o.journal.get(cmd.id);
    if (known) {
      if (known.state === 'done' && known.result) {
        log.info('redelivered command answered from the journal');
        this.#sendResult(cmd.id, known.result);
      } else if (known.bootId !== this.#o.bootId) {
        log.warn('command was interrupted by an agentd restart');
        this.#sendResult(cmd.id, this.#interrupted(cmd.id));
      }
      return;
    }
    // While stopping, new commands are left unacknowledged: the hub redelivers them to the next agentd.
    if (!this.#accepting) return;
    const now = Date.now();
    const refuse = (status: CommandStatus, code: string, message: string): void => {
      if (!this.#o.journal.begin(cmd.id, cmd.kind, this.#o.bootId)) return;
      const result: Result = { status: status as string, outputJson: '', errorCode: code, errorMessage: message, startedAtMs: now, finishedAtMs: now };
      this.#o.journal.finish(cmd.id, result);
      log.warn('command refused', { status, reason: message });
      this.#sendResult(cmd.id, result);
    };
    if (cmd.deadlineMs > 0 && cmd.deadlineMs <= now) return refuse('COMMAND_STATUS_EXPIRED', 'deadline_exceeded', 'command arrived after its deadline');
    const entry = this.#o.handlers.get(cmd.kind);
    const spec: CommandSpec | undefined = typeof entry === 'function' ? { run: entry } : entry;
    if (!spec) return refuse('COMMAND_STATUS_REJECTED', 'invalid_argument', `unknown command kind '${cmd.kind}' (this agentd handles: ${this.kinds.join(', ')})`);
    let args: Record<string, unknown>;
    try {
      const parsed: unknown = cmd.argsJson ? JSON.parse(cmd.argsJson) : {};
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('args must be a JSON object');
      args = parsed as Record<string, unknown>;
    } catch (err) {
      return refuse('COMMAND_STATUS_REJECTED', 'invalid_argument', `bad arguments: ${(err as Error).message}`);
    }
    if (!this.#o.journal.begin(cmd.id, cmd.kind, this.#o.bootId)) return;
    this.#o.send({ commandResult: { commandId: cmd.id, status: 'COMMAND_STATUS_ACCEPTED', startedAtMs: now } });
    log.info('running command');
    const start = (): Promise<void> => this.#run(cmd.id, spec, args, log);
    let run: Promise<void>;
    if (spec.concurrent) {
      run = start().finally(() => this.#inFlight.delete(cmd.id));
    } else {
      run = this.#queue.then(start).finally(() => this.#inFlight.delete(cmd.id));
      this.#queue = run.catch(() => undefined);
    }
    this.#inFlight.set(cmd.id, run);
  }

  async #run(id: string, spec: CommandSpec, args: Record<string, unknown>, log: Logger): Promise<void> {
    const startedAtMs = Date.now();
    const timeoutMs = spec.timeoutMs ?? this.#o.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([timeout, this.#abort.signal]);
    let result: Result;
    try {
      const output = await Promise.race([
        spec.run(args, { commandId: id, signal }),
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error(timeout.aborted ? `timed out after ${timeoutMs} ms` : 'agentd is stopping')), { once: true })),
      ]);
      result = { status: 'COMMAND_STATUS_SUCCEEDED', outputJson: JSON.stringify(output ?? null), errorCode: '', errorMessage: '', startedAtMs, finishedAtMs: Date.now() };
      log.info('command succeeded', { ms: result.finishedAtMs - startedAtMs });
    } catch (err) {
      const e = PlaneError.from(err);
      // A handler may attach what it did before failing (an upgrade's rollback) as `output`.
      const partial = (err as { output?: unknown } | null)?.output;
      result = { status: 'COMMAND_STATUS_FAILED', outputJson: partial === undefined ? '' : JSON.stringify(partial), errorCode: e.code, errorMessage: e.message, startedAtMs, finishedAtMs: Date.now() };
      log.warn('command failed', { reason: e.message });
    }
    this.#o.journal.finish(id, result);
    this.#sendResult(id, result);
  }

  /** A command an earlier agentd boot started and never finished: recorded as interrupted, never retried. */
  #interrupted(id: string): Result {
    const now = Date.now();
    const result: Result = { status: 'COMMAND_STATUS_INTERRUPTED', outputJson: '', errorCode: 'aborted', errorMessage: 'agentd stopped while this command was running; it was not retried', startedAtMs: now, finishedAtMs: now };
    this.#o.journal.finish(id, result);
    return result;
  }

  /**
   * The ledger for the hub's Hello: the journal's newest entries with their
   * results (ACCEPTED for one still running; INTERRUPTED for one an earlier boot
   * left unfinished). A large output is left out and its id listed, so the hub
   * asks for it by sending the command again.
   */
  ledger(): CommandLedger {
    const results: CommandResult[] = [];
    const outputOmitted: string[] = [];
    // What is left for outputs once every entry has its room.
    let outputBudget = LEDGER_MAX_BYTES - LEDGER_MAX_ENTRIES * LEDGER_ENTRY_BYTES;
    for (const e of this.#o.journal.recent(LEDGER_MAX_ENTRIES, LEDGER_EXCLUDED_KINDS)) {
      const running = e.state === 'started' && e.bootId === this.#o.bootId;
      if (running) {
        results.push({ commandId: e.id, status: 'COMMAND_STATUS_ACCEPTED', startedAtMs: e.receivedAt });
        continue;
      }
      const r = e.result ?? this.#interrupted(e.id);
      const outputBytes = Buffer.byteLength(r.outputJson);
      const omit = outputBytes > LEDGER_MAX_OUTPUT_BYTES || outputBytes > outputBudget;
      if (omit) outputOmitted.push(e.id);
      else outputBudget -= outputBytes;
      results.push({ ...this.#wire(e.id, r), errorMessage: r.errorMessage.slice(0, LEDGER_MAX_ERROR_CHARS), outputJson: omit ? '' : r.outputJson });
    }
    return { results, outputOmitted };
  }

  #wire(id: string, r: Result): CommandResult {
    return { commandId: id, status: r.status as CommandStatus, outputJson: r.outputJson, errorCode: r.errorCode, errorMessage: r.errorMessage, startedAtMs: r.startedAtMs, finishedAtMs: r.finishedAtMs };
  }

  #sendResult(id: string, r: Result): void {
    // If this is lost (disconnected), the hub redelivers the command and the journal answers.
    this.#o.send({ commandResult: this.#wire(id, r) });
  }

  /** Stops taking new commands and waits (up to `deadlineMs`) for running ones. */
  async drain(deadlineMs: number): Promise<void> {
    this.#accepting = false;
    if (this.#inFlight.size === 0) return;
    const all = Promise.allSettled([...this.#inFlight.values()]);
    const timer = setTimeout(() => this.#abort.abort(), deadlineMs);
    await all;
    clearTimeout(timer);
  }
}
