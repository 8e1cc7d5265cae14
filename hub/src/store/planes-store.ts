import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import { type Db, statementCache } from '../db/database.ts';
import type { PlaneRecord, PlaneSpec } from '../model.ts';

interface Row {
  name: string;
  spec_json: string;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): PlaneRecord => ({
  name: r.name,
  spec: JSON.parse(r.spec_json) as PlaneSpec,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class PlanesStore {
  readonly #db: Db;
  readonly #q: ReturnType<typeof statementCache>;
  constructor(db: Db) {
    this.#db = db;
    this.#q = statementCache(db);
  }

  create(name: string, spec: PlaneSpec, now = Date.now()): PlaneRecord {
    const info = this.#q('INSERT INTO planes (name, spec_json, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING')
      .run(name, JSON.stringify(spec), now, now);
    if (info.changes === 0) throw new PlaneError(ErrorCode.AlreadyExists, `plane '${name}' already exists`, { where: 'name' });
    return { name, spec, createdAt: now, updatedAt: now };
  }

  find(name: string): PlaneRecord | undefined {
    const row = this.#q('SELECT * FROM planes WHERE name = ?').get(name) as Row | undefined;
    return row && toRecord(row);
  }

  get(name: string): PlaneRecord {
    const plane = this.find(name);
    if (!plane) throw new PlaneError(ErrorCode.NotFound, `plane '${name}' not found`, { where: 'planeId' });
    return plane;
  }

  list(): PlaneRecord[] {
    return (this.#q('SELECT * FROM planes ORDER BY name').all() as Row[]).map(toRecord);
  }

  update(name: string, spec: PlaneSpec, now = Date.now()): PlaneRecord {
    const info = this.#q('UPDATE planes SET spec_json = ?, updated_at = ? WHERE name = ?').run(JSON.stringify(spec), now, name);
    if (info.changes === 0) throw new PlaneError(ErrorCode.NotFound, `plane '${name}' not found`, { where: 'planeId' });
    return this.get(name);
  }

  delete(name: string): void {
    this.#q('DELETE FROM planes WHERE name = ?').run(name);
  }
}
