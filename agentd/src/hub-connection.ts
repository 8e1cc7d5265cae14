import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { Backoff, sleep } from '../../common/src/backoff.ts';
import { isRetryableGrpcStatus } from '../../common/src/errors.ts';
import { hubChannelOptions } from '../../common/src/hub-tls.ts';
import type { Logger } from '../../common/src/logger.ts';
import { loadContract } from '../../proto/index.ts';
import { randomUUID } from 'node:crypto';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import type { AgentMessage, AgentPlaneClient, CommandLedger, BrainGrant__Output, Command__Output, Heartbeat, HubMessage__Output, SecretManifest__Output, SecretResponse__Output } from '../../proto/index.ts';
import type { StoredCredential } from './credential-store.ts';

export interface HelloInfo {
  bootId: string;
  agentdVersion: string;
  runtimeVersions: Record<string, string>;
  capabilities: string[];
  /** What this agentd did with recent commands (its journal), for the hub to settle missed results. */
  ledger?: CommandLedger;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

interface ConnectionEvents {
  command: [Command__Output];
  state: [ConnectionState];
  /** The hub refused our identity; retrying with the same credential will not help. */
  rejected: [string];
  /** The agent spec from the hub's HelloAck (JSON, unvalidated). */
  spec: [string];
  /** Where the brain lives, its data key and this boot's writer lease, from the HelloAck. */
  brain: [BrainGrant__Output];
  /** Names and versions in the agent's secret namespace, from the HelloAck. */
  secrets: [SecretManifest__Output];
}

export interface HubConnectionOptions {
  credential: StoredCredential;
  /** The bearer credential to present; defaults to credential.credential (rotation swaps it). */
  credentialValue?: () => string;
  /** Called when the hub refuses the credential; returns true if another one should be tried now. */
  onUnauthenticated?: () => boolean;
  hello: () => HelloInfo;
  heartbeat: () => Omit<Heartbeat, 'seq' | 'sentAtMs'>;
  log: Logger;
  /** Used until the hub's HelloAck says otherwise. */
  defaultHeartbeatIntervalMs?: number;
  backoff?: { initialDelayMs?: number; maxDelayMs?: number };
}

/**
 * The agent's side of Connect: one stream at a time, re-opened with jittered,
 * capped backoff. Sends Hello, then a Heartbeat every interval the hub asks
 * for; if the hub acks nothing for 3 intervals the stream is presumed dead and
 * replaced. Commands are emitted to the caller, who answers via send().
 */
export class HubConnection extends EventEmitter<ConnectionEvents> {
  readonly #o: HubConnectionOptions;
  readonly #log: Logger;
  readonly #client: AgentPlaneClient;
  readonly #backoff: Backoff;
  readonly #abort = new AbortController();
  #state: ConnectionState = 'idle';
  #call: grpc.ClientDuplexStream<AgentMessage, HubMessage__Output> | undefined;
  #seq = 0;
  #intervalMs: number;
  #lastAckAt = 0;
  #loop: Promise<void> | undefined;
  #sessionId = '';
  readonly #secretWaiters = new Map<string, (r: SecretResponse__Output) => void>();

  constructor(options: HubConnectionOptions) {
    super();
    this.#o = options;
    this.#log = options.log.child('hub-connection');
    this.#intervalMs = options.defaultHeartbeatIntervalMs ?? 5000;
    this.#backoff = new Backoff({ initialDelayMs: 250, maxDelayMs: 15_000, ...options.backoff });
    const Client = loadContract().agentplane.v1.AgentPlane;
    this.#client = new Client(
      options.credential.hub,
      grpc.credentials.createSsl(Buffer.from(options.credential.caPem)),
      // Reconnects are ours (with jitter); keep grpc-js's own channel backoff short.
      hubChannelOptions({ 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2000 }),
    );
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  get heartbeatIntervalMs(): number {
    return this.#intervalMs;
  }

  #set(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#log.debug('connection state', { from: this.#state, to: state });
    this.#state = state;
    this.emit('state', state);
  }

  /** Resolves true once connected (at once if already), false after `timeoutMs` or on close. */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.#state === 'connected') return Promise.resolve(true);
    if (this.#abort.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onState = (s: ConnectionState): void => {
        if (s !== 'connected') return;
        clearTimeout(timer);
        this.off('state', onState);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.off('state', onState);
        resolve(false);
      }, timeoutMs);
      this.on('state', onState);
    });
  }

  start(): void {
    if (this.#loop) return;
    this.#loop = this.#run();
  }

  /** Sends a message if a stream is up; returns false otherwise (the caller keeps it for later). */
  send(message: AgentMessage): boolean {
    if (!this.#call || this.#state !== 'connected') return false;
    this.#call.write(message);
    return true;
  }

  /**
   * Asks the hub for secret values by name, over this agent's own stream.
   * Values come back in memory only; the caller must not log or persist them.
   */
  requestSecrets(names: string[], timeoutMs = 10_000, options: { rotateDataKey?: boolean } = {}): Promise<SecretResponse__Output> {
    const requestId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#secretWaiters.delete(requestId);
        reject(new PlaneError(ErrorCode.DeadlineExceeded, `the hub did not answer a secret request within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#secretWaiters.set(requestId, (r) => {
        clearTimeout(timer);
        this.#secretWaiters.delete(requestId);
        if (r.error) reject(new PlaneError(ErrorCode.PermissionDenied, `hub refused the secret request: ${r.error}`));
        else resolve(r);
      });
      if (!this.send({ secretRequest: { requestId, names, ...(options.rotateDataKey ? { rotateDataKey: true } : {}) } })) {
        clearTimeout(timer);
        this.#secretWaiters.delete(requestId);
        reject(new PlaneError(ErrorCode.Unavailable, 'not connected to the hub'));
      }
    });
  }

  /** Sends one heartbeat now (state changes should not wait for the timer). */
  heartbeatNow(): void {
    this.#seq += 1;
    this.send({ heartbeat: { ...this.#o.heartbeat(), seq: this.#seq, sentAtMs: Date.now() } });
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#set('connecting');
      const outcome = await this.#session(signal);
      if (signal.aborted) break;
      if (outcome.fatal && outcome.unauthenticated && this.#o.onUnauthenticated?.()) {
        this.#log.info('hub refused the credential; trying the rotated one');
        continue;
      }
      if (outcome.fatal) {
        this.emit('rejected', outcome.reason);
        this.#log.error('hub rejected this agent; retrying slowly', { reason: outcome.reason });
      } else {
        this.#log.warn('stream to hub ended; reconnecting', { reason: outcome.reason });
      }
      this.#set('backoff');
      const delay = outcome.fatal ? Math.max(30_000, this.#backoff.next()) : this.#backoff.next();
      if (!(await sleep(delay, signal))) break;
    }
    this.#set('closed');
  }

  /** One stream's life. Resolves when it ends, with why. */
  #session(signal: AbortSignal): Promise<{ fatal: boolean; reason: string; unauthenticated?: boolean }> {
    return new Promise((resolve) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${this.#o.credentialValue?.() ?? this.#o.credential.credential}`);
      const call = this.#client.Connect(md);
      this.#call = call;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (fatal: boolean, reason: string, unauthenticated = false): void => {
        if (done) return;
        done = true;
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.#call === call) this.#call = undefined;
        call.removeAllListeners('data');
        resolve({ fatal, reason, unauthenticated });
      };
      const onAbort = (): void => {
        // Half-close and wait for the hub's status, so everything written before
        // (the final heartbeat and event) is on the wire before the process exits.
        call.end();
        const giveUp = setTimeout(() => {
          call.cancel();
          finish(false, 'closing (hub did not answer the end in time)');
        }, 2000);
        call.once('status', () => {
          clearTimeout(giveUp);
          finish(false, 'closing');
        });
      };
      signal.addEventListener('abort', onAbort, { once: true });

      call.on('data', (msg: HubMessage__Output) => {
        switch (msg.body) {
          case 'helloAck': {
            const ack = msg.helloAck;
            if (!ack) return;
            this.#intervalMs = ack.heartbeatIntervalMs || this.#intervalMs;
            this.#sessionId = ack.sessionId;
            this.#lastAckAt = Date.now();
            this.#backoff.reset();
            this.#set('connected');
            if (ack.agentSpecJson) this.emit('spec', ack.agentSpecJson);
            if (ack.brain) this.emit('brain', ack.brain);
            if (ack.secrets) this.emit('secrets', ack.secrets);
            this.#log.info('connected to hub', { hub: this.#o.credential.hub, sessionId: ack.sessionId, heartbeatIntervalMs: this.#intervalMs });
            this.heartbeatNow();
            timer = setInterval(() => {
              if (Date.now() - this.#lastAckAt > 3 * this.#intervalMs) {
                this.#log.warn('no heartbeat ack for 3 intervals; dropping the stream', { sessionId: this.#sessionId });
                call.cancel();
                finish(false, 'hub silent for 3 heartbeat intervals');
                return;
              }
              this.heartbeatNow();
            }, this.#intervalMs);
            return;
          }
          case 'heartbeatAck':
            this.#lastAckAt = Date.now();
            return;
          case 'command':
            if (msg.command) this.emit('command', msg.command);
            return;
          case 'secretResponse':
            if (msg.secretResponse) this.#secretWaiters.get(msg.secretResponse.requestId)?.(msg.secretResponse);
            return;
          default:
            return;
        }
      });
      call.on('error', (err: grpc.ServiceError) => {
        finish(!isRetryableGrpcStatus(err.code), `${grpc.status[err.code] ?? err.code}: ${err.details}`, err.code === grpc.status.UNAUTHENTICATED);
      });
      call.on('end', () => finish(false, 'hub ended the stream'));
      const hello = this.#o.hello();
      call.write({ hello: { agentId: this.#o.credential.agentId, ...hello } });
    });
  }

  /** Ends the stream cleanly and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.#client.close();
  }
}
