import type { Logger } from '../../../common/src/logger.ts';
import { PlaneError } from '../../../common/src/errors.ts';
import type { CommandRuns } from '../command-runs.ts';
import type { Fleet } from '../fleet.ts';
import type { RunRecord } from '../run-model.ts';
import type { SseStream } from './sse-stream.ts';
import { type FleetRows, type Row, type RunRow, runRow } from './fleet-rows.ts';

export interface FeedOptions {
  /** How often the hub looks for changes while someone watches: health turns on time, not only on events. */
  tickMs: number;
  /** How often the last-heartbeat times are sent (they change every heartbeat, so not with the rows). */
  beatsEveryMs: number;
  heartbeatIntervalMs: number;
  log: Logger;
  /** Runs finished this recently are still shown, so a run's end is seen. */
  keepFinishedMs?: number;
}

type Topic = { kind: 'fleet' } | { kind: 'agent'; plane: string; name: string } | { kind: 'run'; plane: string; id: string };

interface Subscriber {
  topic: Topic;
  stream: SseStream;
  /** What this subscriber was last sent (agent and run topics). */
  last?: string;
}

const key = (r: { plane: string; name: string }): string => `${r.plane}/${r.name}`;
/** A row without its heartbeat time: that changes every few seconds and travels in `beats`. */
const signature = (r: Row): string => JSON.stringify({ ...r, lastHeartbeatAt: undefined });

/**
 * The console's live feed: one timer, running only while a browser watches,
 * turns the hub's state into Server-Sent Events.
 *
 * - `fleet`: a `snapshot` of every row at connect, then `rows` with only the
 *   rows that changed (and removed ones), `beats` with new heartbeat times, and
 *   `runs` when a run's progress moves.
 * - `agent`: the agent (as GET .../agents/{name} answers) whenever its
 *   heartbeat, health or connection changes.
 * - `run`: the run (as GET .../runs/{id} answers) whenever it moves.
 */
export class ConsoleFeed {
  readonly #rows: FleetRows;
  readonly #fleet: Fleet;
  readonly #runs: CommandRuns;
  readonly #finishedRun: (id: string) => RunRecord | undefined;
  readonly #o: FeedOptions;
  readonly #subs = new Set<Subscriber>();
  #timer: NodeJS.Timeout | undefined;
  #prev = new Map<string, string>();
  #prevBeats = new Map<string, number | null>();
  #lastBeatsAt = 0;
  #lastPingAt = 0;
  #prevRuns = '';
  /** Runs seen running, and when each finished (kept a while so the end is shown). */
  readonly #recentRuns = new Map<string, { run: RunRow; finishedSeenAt: number | null }>();

  constructor(rows: FleetRows, fleet: Fleet, runs: CommandRuns, finishedRun: (id: string) => RunRecord | undefined, options: FeedOptions) {
    this.#rows = rows;
    this.#fleet = fleet;
    this.#runs = runs;
    this.#finishedRun = finishedRun;
    this.#o = options;
  }

  get streams(): number {
    return this.#subs.size;
  }

  /**
   * `open` starts the response; it is called only once the first event is
   * ready, so a failure before that is an ordinary error answer, not a
   * stream whose headers never leave the hub.
   */
  subscribe(topic: Topic, open: () => SseStream): void {
    const now = Date.now();
    const first = topic.kind === 'fleet' ? this.#rows.build(now) : undefined;
    const stream = open();
    const sub: Subscriber = { topic, stream };
    this.#subs.add(sub);
    stream.onClose(() => {
      this.#subs.delete(sub);
      if (this.#subs.size === 0) this.#stop();
    });
    if (first) {
      if (this.#prev.size === 0) this.#remember(first.rows, now);
      stream.send('snapshot', { at: now, heartbeatIntervalMs: this.#o.heartbeatIntervalMs, rows: first.rows, runs: this.#mergeRecent(first.runs, now) });
    } else this.#sendTopic(sub);
    this.#timer ??= setInterval(() => this.#tick(), this.#o.tickMs);
  }

  /** Ends every stream (the hub is closing). */
  closeAll(): void {
    for (const s of [...this.#subs]) s.stream.close();
    this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#prev = new Map();
    this.#prevBeats = new Map();
    this.#prevRuns = '';
  }

  #remember(rows: Row[], now: number): void {
    this.#prev = new Map(rows.map((r) => [key(r), signature(r)]));
    this.#prevBeats = new Map(rows.map((r) => [key(r), r.lastHeartbeatAt]));
    this.#lastBeatsAt = now;
  }

  /** Open runs (running, or waiting for agents' reports) plus the ones that finished lately, as the run store has them at the end. */
  #mergeRecent(running: RunRow[], now: number): RunRow[] {
    const live = new Set(running.map((r) => r.id));
    for (const r of running) this.#recentRuns.set(r.id, { run: r, finishedSeenAt: null });
    for (const [id, seen] of this.#recentRuns) {
      if (live.has(id)) continue;
      if (seen.finishedSeenAt === null) {
        const done = this.#finishedRun(id);
        // Not 'unknown': that word is a target's state (the agent has yet to report).
        seen.run = done ? runRow(done) : { ...seen.run, state: 'removed' };
        seen.finishedSeenAt = now;
      } else if (now - seen.finishedSeenAt > (this.#o.keepFinishedMs ?? 10 * 60_000)) this.#recentRuns.delete(id);
    }
    return [...this.#recentRuns.values()].map((s) => s.run).sort((a, b) => b.createdAt - a.createdAt);
  }

  #tick(): void {
    try {
      const now = Date.now();
      const fleetSubs = [...this.#subs].filter((s) => s.topic.kind === 'fleet');
      if (fleetSubs.length > 0) this.#tickFleet(fleetSubs, now);
      for (const s of this.#subs) if (s.topic.kind !== 'fleet') this.#sendTopic(s);
      if (now - this.#lastPingAt >= 15_000) {
        this.#lastPingAt = now;
        for (const s of this.#subs) s.stream.ping();
      }
    } catch (err) {
      this.#o.log.warn('console feed tick failed; trying again at the next tick', { reason: PlaneError.from(err).message });
    }
  }

  #tickFleet(subs: Subscriber[], now: number): void {
    const { rows, runs } = this.#rows.build(now);
    const upsert: Row[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      const k = key(r);
      seen.add(k);
      const sig = signature(r);
      if (this.#prev.get(k) !== sig) {
        upsert.push(r);
        this.#prev.set(k, sig);
      }
    }
    const remove = [...this.#prev.keys()].filter((k) => !seen.has(k));
    for (const k of remove) {
      this.#prev.delete(k);
      this.#prevBeats.delete(k);
    }
    const send = (event: string, data: unknown): void => {
      for (const s of subs) s.stream.send(event, data);
    };
    if (upsert.length > 0 || remove.length > 0) send('rows', { at: now, upsert, remove });
    if (now - this.#lastBeatsAt >= this.#o.beatsEveryMs) {
      const beats: Record<string, number | null> = {};
      for (const r of rows) {
        const k = key(r);
        if (this.#prevBeats.get(k) !== r.lastHeartbeatAt) {
          beats[k] = r.lastHeartbeatAt;
          this.#prevBeats.set(k, r.lastHeartbeatAt);
        }
      }
      this.#lastBeatsAt = now;
      if (Object.keys(beats).length > 0) send('beats', { at: now, beats });
    }
    const merged = this.#mergeRecent(runs, now);
    const runsSig = JSON.stringify(merged);
    if (runsSig !== this.#prevRuns) {
      this.#prevRuns = runsSig;
      send('runs', { at: now, runs: merged });
    }
  }

  /** One agent or one run: sent whole whenever it changed. */
  #sendTopic(sub: Subscriber): void {
    const t = sub.topic;
    try {
      if (t.kind === 'agent') {
        const view = this.#fleet.getAgent(t.plane, t.name);
        const sig = JSON.stringify([view.heartbeat?.seq, view.heartbeat?.receivedAt, view.health, view.connected, view.desiredState, view.healing, view.updatedAt]);
        if (sig !== sub.last) {
          sub.last = sig;
          sub.stream.send('agent', view);
        }
      } else if (t.kind === 'run') {
        const run = this.#runs.get(t.plane, t.id);
        const sig = JSON.stringify([run.state, run.summary, run.targets.map((x) => [x.state, x.error])]);
        if (sig !== sub.last) {
          sub.last = sig;
          sub.stream.send('run', run);
        }
      }
    } catch (err) {
      // The agent was removed or the run is unknown: say so once and end this stream.
      sub.stream.send('gone', { error: PlaneError.from(err).message });
      sub.stream.close();
    }
  }
}
