/**
 * Simulated agents for the hub benchmark, run as a child process of
 * hub-bench.ts so that the load generator's CPU is not the hub's. Each agent
 * has its own gRPC channel (own TLS connection), enrols with its one-time
 * bundle, opens Connect, heartbeats every interval and answers commands.
 */
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { hubChannelOptions } from '../../common/src/hub-tls.ts';
import { decodeBundle } from '../../common/src/enrollment-bundle.ts';
import { loadContract } from '../../proto/index.ts';
import type { AgentMessage, AgentPlaneClient, EnrollResponse__Output, HubMessage__Output } from '../../proto/index.ts';
import type { FanoutStatus, ParentMessage, ReplyMessage, StartMessage, WindowStats, WorkerMessage } from './protocol.ts';

const ENROLL_DEADLINE_MS = 60_000;
const CONNECT_TIMEOUT_MS = 60_000;
const CONNECT_ATTEMPTS = 3;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** Counters shared by all agents of this worker. */
const stats = {
  enrolled: 0,
  connected: 0,
  failed: 0,
  recording: false,
  disconnects: 0,
  window: { acks: 0, sent: 0, ackRttMs: [] as number[], disconnects: 0, disconnectsTotal: 0 } satisfies WindowStats,
  answered: 0,
};

class SimAgent {
  readonly index: number;
  readonly #bundle: ReturnType<typeof decodeBundle>;
  readonly #client: AgentPlaneClient;
  readonly #bootId = randomUUID();
  #agentId = '';
  #credential = '';
  #call: grpc.ClientDuplexStream<AgentMessage, HubMessage__Output> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #seq = 0;
  /** Only one heartbeat is outstanding at a time (interval >> RTT), so the last one is enough for RTT. */
  #lastSeq = 0;
  #lastSentAt = 0;
  #stopped = false;
  commandAt: number | undefined;

  constructor(index: number, bundleText: string) {
    this.index = index;
    this.#bundle = decodeBundle(bundleText);
    const Client = loadContract().agentplane.v1.AgentPlane;
    // grpc-js shares one connection between channels with the same target and
    // options; a local subchannel pool plus a distinct option gives every agent its own.
    this.#client = new Client(
      this.#bundle.hub,
      grpc.credentials.createSsl(Buffer.from(this.#bundle.caPem)),
      hubChannelOptions({ 'grpc.use_local_subchannel_pool': 1, 'bench.agent': index }),
    );
  }

  enroll(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.Enroll(
        { enrollmentToken: this.#bundle.token, plane: this.#bundle.plane, agentName: this.#bundle.agent, bootId: this.#bootId, agentdVersion: 'bench' },
        { deadline: Date.now() + ENROLL_DEADLINE_MS },
        (err: grpc.ServiceError | null, res?: EnrollResponse__Output) => {
          if (err || !res) return reject(new Error(`enroll ${this.#bundle.agent}: ${err ? `${grpc.status[err.code]}: ${err.details}` : 'empty response'}`));
          this.#agentId = res.agentId;
          this.#credential = res.credential;
          resolve();
        },
      );
    });
  }

  /** Opens the stream and resolves on HelloAck; rejects if the stream fails first. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${this.#credential}`);
      const call = this.#client.Connect(md);
      this.#call = call;
      let up = false;
      let over = false;
      const timeout = setTimeout(() => {
        call.cancel();
        reject(new Error(`connect ${this.#bundle.agent}: no HelloAck within ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      const gone = (why: string): void => {
        if (over) return;
        over = true;
        clearTimeout(timeout);
        this.#clearTimers();
        if (this.#call === call) this.#call = undefined;
        call.removeAllListeners('data');
        if (!up) return reject(new Error(`connect ${this.#bundle.agent}: ${why}`));
        if (this.#stopped) return;
        // A stream lost mid-run is a finding: count it and re-open, as agentd would.
        stats.disconnects += 1;
        if (stats.recording) stats.window.disconnects += 1;
        this.#reconnectLater();
      };
      call.on('data', (msg: HubMessage__Output) => {
        if (msg.body === 'helloAck' && msg.helloAck) {
          up = true;
          clearTimeout(timeout);
          const interval = msg.helloAck.heartbeatIntervalMs;
          // Stagger the first heartbeat across the interval so 1000 agents do not beat in lockstep.
          const first = setTimeout(() => {
            this.#heartbeat();
            this.#timers.push(setInterval(() => this.#heartbeat(), interval));
          }, Math.random() * interval);
          this.#timers.push(first);
          resolve();
        } else if (msg.body === 'heartbeatAck' && msg.heartbeatAck) {
          if (!stats.recording) return;
          stats.window.acks += 1;
          if (msg.heartbeatAck.seq === this.#lastSeq) stats.window.ackRttMs.push(Date.now() - this.#lastSentAt);
        } else if (msg.body === 'command' && msg.command) {
          this.commandAt ??= Date.now();
          call.write({ commandResult: { commandId: msg.command.id, status: 'COMMAND_STATUS_SUCCEEDED', outputJson: '{}' } });
          stats.answered += 1;
        }
      });
      call.on('error', (err: grpc.ServiceError) => gone(`${grpc.status[err.code]}: ${err.details}`));
      call.on('end', () => gone('hub ended the stream'));
      call.write({ hello: { agentId: this.#agentId, bootId: this.#bootId, agentdVersion: 'bench', runtimeVersions: {}, capabilities: ['ping'] } });
    });
  }

  #reconnectLater(): void {
    const t = setTimeout(() => {
      this.connect().catch(() => {
        if (!this.#stopped) this.#reconnectLater();
      });
    }, 1000 + Math.random() * 1000);
    this.#timers.push(t);
  }

  #heartbeat(): void {
    if (!this.#call) return;
    this.#seq += 1;
    this.#lastSeq = this.#seq;
    this.#lastSentAt = Date.now();
    this.#call.write({
      heartbeat: { seq: this.#seq, sentAtMs: this.#lastSentAt, gateway: { state: 'GATEWAY_STATE_RUNNING', ready: true, runtime: 'simulated' } },
    });
    if (stats.recording) stats.window.sent += 1;
  }

  #clearTimers(): void {
    for (const t of this.#timers.splice(0)) clearTimeout(t);
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
    this.#call?.cancel();
    this.#client.close();
  }
}

const agents: SimAgent[] = [];
const errors: string[] = [];

async function bringUp(agent: SimAgent): Promise<void> {
  await agent.enroll();
  stats.enrolled += 1;
  for (let attempt = 1; ; attempt++) {
    try {
      await agent.connect();
      stats.connected += 1;
      return;
    } catch (err) {
      if (attempt >= CONNECT_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

async function start(msg: StartMessage): Promise<void> {
  for (const a of msg.agents) agents.push(new SimAgent(a.index, a.bundle));
  const progress = setInterval(() => send({ t: 'progress', enrolled: stats.enrolled, connected: stats.connected, failed: stats.failed }), 1000);
  let next = 0;
  // A fixed number of lanes, each bringing agents up one after another.
  const lane = async (): Promise<void> => {
    while (next < agents.length) {
      const agent = agents[next++] as SimAgent;
      try {
        await bringUp(agent);
      } catch (err) {
        stats.failed += 1;
        if (errors.length < 5) errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(msg.concurrency, agents.length) }, lane));
  clearInterval(progress);
  send({ t: 'ready', connected: stats.connected, failed: stats.failed, errors });
}

function reply(id: number, body: ReplyMessage['body']): void {
  send({ t: 'reply', id, body });
}

process.on('message', (msg: ParentMessage) => {
  switch (msg.t) {
    case 'start':
      start(msg).catch((err: unknown) => {
        console.error(`sim-worker: ${(err as Error).stack ?? String(err)}`);
        process.exit(1);
      });
      return;
    case 'request':
      if (msg.what === 'window-start') {
        stats.window = { acks: 0, sent: 0, ackRttMs: [], disconnects: 0, disconnectsTotal: 0 };
        stats.recording = true;
        return reply(msg.id, {});
      }
      if (msg.what === 'window-end') {
        stats.recording = false;
        return reply(msg.id, { ...stats.window, disconnectsTotal: stats.disconnects });
      }
      return reply(msg.id, {
        receivedAt: agents.flatMap((a) => (a.commandAt === undefined ? [] : [a.commandAt])),
        answered: stats.answered,
      } satisfies FanoutStatus);
    case 'stop':
      for (const a of agents) a.stop();
      process.exit(0);
  }
});

// Without the parent there is nothing to report to: do not linger.
process.on('disconnect', () => process.exit(0));
