import { useEffect, useState } from 'preact/hooks';
import type { Row, RunSummary, Snapshot0 } from './types.ts';

export interface FleetState {
  /** false until the first snapshot arrives */
  ready: boolean;
  /** the stream is up (false while the browser reconnects) */
  live: boolean;
  rows: Row[];
  runs: RunSummary[];
  heartbeatIntervalMs: number;
  /** hub clock minus this clock, from the last event: ages are shown in the hub's time */
  skewMs: number;
  /** first snapshot rendered: when, after navigation start (the benchmark reads it) */
  version: number;
}

const key = (r: { plane: string; name: string }): string => `${r.plane}/${r.name}`;

/**
 * The fleet table's data: one EventSource for the whole page (topic=fleet), a
 * snapshot first, then only the rows that changed. Kept open across pages so
 * coming back to the fleet is instant; closed at sign-out.
 */
class FleetFeed {
  #source: EventSource | undefined;
  #byKey = new Map<string, Row>();
  #state: FleetState = { ready: false, live: false, rows: [], runs: [], heartbeatIntervalMs: 5000, skewMs: 0, version: 0 };
  readonly #listeners = new Set<(s: FleetState) => void>();

  get state(): FleetState {
    return this.#state;
  }

  subscribe(fn: (s: FleetState) => void): () => void {
    this.#listeners.add(fn);
    this.#open();
    return () => this.#listeners.delete(fn);
  }

  close(): void {
    this.#source?.close();
    this.#source = undefined;
    this.#byKey.clear();
    this.#state = { ...this.#state, ready: false, live: false, rows: [], runs: [], version: 0 };
  }

  #emit(patch: Partial<FleetState>, rowsChanged: boolean): void {
    this.#state = { ...this.#state, ...patch, ...(rowsChanged ? { rows: [...this.#byKey.values()], version: this.#state.version + 1 } : {}) };
    for (const fn of this.#listeners) fn(this.#state);
  }

  #open(): void {
    if (this.#source) return;
    const es = new EventSource('/v1/console/events?topic=fleet');
    this.#source = es;
    es.onopen = () => this.#emit({ live: true }, false);
    es.onerror = () => this.#emit({ live: false }, false);
    es.addEventListener('snapshot', (e) => {
      if (!performance.getEntriesByName('fleet-snapshot').length) performance.mark('fleet-snapshot');
      const s = JSON.parse((e as MessageEvent<string>).data) as Snapshot0;
      this.#byKey = new Map(s.rows.map((r) => [key(r), r]));
      this.#emit({ ready: true, live: true, runs: s.runs, heartbeatIntervalMs: s.heartbeatIntervalMs, skewMs: s.at - Date.now() }, true);
    });
    es.addEventListener('rows', (e) => {
      const d = JSON.parse((e as MessageEvent<string>).data) as { at: number; upsert: Row[]; remove: string[] };
      for (const r of d.upsert) this.#byKey.set(key(r), r);
      for (const k of d.remove) this.#byKey.delete(k);
      this.#emit({ skewMs: d.at - Date.now() }, true);
    });
    es.addEventListener('beats', (e) => {
      const d = JSON.parse((e as MessageEvent<string>).data) as { at: number; beats: Record<string, number | null> };
      for (const [k, at] of Object.entries(d.beats)) {
        const r = this.#byKey.get(k);
        if (r) this.#byKey.set(k, { ...r, lastHeartbeatAt: at });
      }
      this.#emit({ skewMs: d.at - Date.now() }, true);
    });
    es.addEventListener('runs', (e) => {
      const d = JSON.parse((e as MessageEvent<string>).data) as { runs: RunSummary[] };
      this.#emit({ runs: d.runs }, false);
    });
  }
}

export const fleetFeed = new FleetFeed();

export function useFleet(): FleetState {
  const [state, setState] = useState(fleetFeed.state);
  useEffect(() => fleetFeed.subscribe(setState), []);
  return state;
}

/**
 * One agent or one run, live: the hub sends it whole whenever it changes.
 * The stream closes when the page goes away.
 */
export function useTopic<T>(url: string | null, event: 'agent' | 'run'): { value: T | undefined; gone: string | undefined } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [gone, setGone] = useState<string | undefined>(undefined);
  useEffect(() => {
    setValue(undefined);
    setGone(undefined);
    if (!url) return undefined;
    const es = new EventSource(url);
    es.addEventListener(event, (e) => setValue(JSON.parse((e as MessageEvent<string>).data) as T));
    es.addEventListener('gone', (e) => {
      setGone((JSON.parse((e as MessageEvent<string>).data) as { error: string }).error);
      es.close();
    });
    return () => es.close();
  }, [url, event]);
  return { value, gone };
}
