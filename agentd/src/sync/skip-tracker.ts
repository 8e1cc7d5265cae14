import type { Logger } from '../../../common/src/logger.ts';
import type { Skipped } from './workspace-scan.ts';

/** Past this many paths, further ones are counted but not logged one by one. */
const LOG_PATHS_MAX = 10_000;

/**
 * The workspace files left out of the brain right now, by path, with why:
 * counted by reason for heartbeats, listed by `agentd status`, and each path
 * logged once (again only if its reason changes). A full scan replaces the
 * whole set; a change event replaces what is known at and under its path.
 */
export class SkipTracker {
  readonly #log: Logger;
  readonly #current = new Map<string, Skipped>();
  readonly #logged = new Map<string, string>();
  #unlogged = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** A full scan's findings replace everything known. */
  replaceAll(skips: readonly Skipped[]): void {
    this.#current.clear();
    for (const s of skips) this.add(s);
  }

  /** A rescan of one path (a file, or a directory and what is under it). */
  replaceUnder(rel: string, skips: readonly Skipped[]): void {
    for (const p of [...this.#current.keys()]) if (p === rel || p.startsWith(`${rel}/`)) this.#current.delete(p);
    for (const s of skips) this.add(s);
  }

  add(s: Skipped): void {
    this.#current.set(s.path, s);
    if (this.#logged.get(s.path) === s.kind) return;
    if (this.#logged.size >= LOG_PATHS_MAX && !this.#logged.has(s.path)) {
      if (this.#unlogged++ === 0) this.#log.warn('more workspace files not synced than are logged one by one; `agentd status` lists them', { logged: LOG_PATHS_MAX });
      return;
    }
    this.#logged.set(s.path, s.kind);
    this.#log.warn('workspace file not synced', { file: s.path, reason: s.reason, kind: s.kind });
  }

  get count(): number {
    return this.#current.size;
  }

  byKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.#current.values()) out[s.kind] = (out[s.kind] ?? 0) + 1;
    return out;
  }

  /** The first `limit` skipped paths, sorted. */
  list(limit: number): Skipped[] {
    return [...this.#current.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).slice(0, limit);
  }
}
