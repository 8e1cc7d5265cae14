import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { type Db, statementCache } from '../db/database.ts';
import { type RunRecord, summarize } from '../run-model.ts';

/** Runs stored before the `unknown` and `not-delivered` states get their summary recounted. */
function parse(json: string): RunRecord {
  const run = JSON.parse(json) as RunRecord;
  run.summary = summarize(run.targets);
  return run;
}

/**
 * Fan-out runs, one row each: the run and its per-agent results as one JSON
 * document, rewritten on every change (a run is small: one entry per agent).
 */
export class RunStore {
  readonly #q: ReturnType<typeof statementCache>;
  constructor(db: Db) {
    this.#q = statementCache(db);
  }

  save(run: RunRecord): void {
    this.#q(
      `INSERT INTO command_runs (id, plane, kind, state, created_at, run_json, unresolved) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, run_json = excluded.run_json, unresolved = excluded.unresolved`,
    ).run(run.id, run.plane, run.kind, run.state, run.createdAt, JSON.stringify(run), run.summary.unknown);
  }

  find(id: string): RunRecord | undefined {
    const row = this.#q('SELECT run_json FROM command_runs WHERE id = ?').get(id) as { run_json: string } | undefined;
    return row ? parse(row.run_json) : undefined;
  }

  get(plane: string, id: string): RunRecord {
    const run = this.find(id);
    if (!run || run.plane !== plane) throw new PlaneError(ErrorCode.NotFound, `run '${id}' not found in plane '${plane}'`, { where: 'runId' });
    return run;
  }

  /** Newest first. */
  list(plane: string, limit = 50, kind?: string): RunRecord[] {
    const rows = (
      kind
        ? this.#q('SELECT run_json FROM command_runs WHERE plane = ? AND kind = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(plane, kind, limit)
        : this.#q('SELECT run_json FROM command_runs WHERE plane = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(plane, limit)
    ) as { run_json: string }[];
    return rows.map((r) => parse(r.run_json));
  }

  /** Runs a previous hub process left running, and finished runs with targets still waiting for their agents' reports. */
  unfinished(): RunRecord[] {
    return (this.#q(`SELECT run_json FROM command_runs WHERE state = 'running' OR unresolved > 0`).all() as { run_json: string }[]).map((r) => parse(r.run_json));
  }
}
