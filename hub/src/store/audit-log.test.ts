import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../db/database.ts';
import { migrations } from '../db/migrations.ts';
import { AuditLog } from './audit-log.ts';

describe('audit chain upgrade', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('chains rows written before the chain existed, once, then appends after them', () => {
    const path = join(dir, 'hub.db');
    const old = new Database(path);
    for (const sql of migrations.slice(0, 2)) old.exec(sql);
    old.pragma('user_version = 2');
    for (let i = 0; i < 3; i++) old.prepare("INSERT INTO audit_events (at, actor, action, outcome) VALUES (?, 'admin', 'old.action', 'ok')").run(i);
    old.close();

    const db = openDatabase(path);
    const log = new AuditLog(db);
    log.record({ actor: 'admin', action: 'new.action', plane: null, agent: null, outcome: 'ok' });
    expect(log.verify()).toMatchObject({ ok: true, rows: 4, headId: 4 });
    expect(() => db.prepare("UPDATE audit_events SET actor = 'x' WHERE id = 1").run()).toThrow(/append-only/);
    db.close();
  });
});
