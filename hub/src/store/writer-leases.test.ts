import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../db/database.ts';
import { WriterLeases } from './writer-leases.ts';

describe('writer leases', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leases-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives each new boot the next fence, keeps it across reconnects, and never grants a superseded boot again', () => {
    const db = openDatabase(join(dir, 'hub.db'));
    db.prepare("INSERT INTO planes (name, spec_json, created_at, updated_at) VALUES ('p', '{}', 0, 0)").run();
    db.prepare("INSERT INTO agents (id, plane, name, owner, spec_json, desired_state, created_at, updated_at) VALUES ('ag_1', 'p', 'a', 'o@x', '{}', 'running', 0, 0)").run();
    const leases = new WriterLeases(db);
    expect(leases.acquire('ag_1', 'boot-a')).toEqual({ granted: true, fence: 1 });
    expect(leases.acquire('ag_1', 'boot-a')).toEqual({ granted: true, fence: 1 });
    expect(leases.acquire('ag_1', 'boot-b')).toEqual({ granted: true, fence: 2 });
    const old = leases.acquire('ag_1', 'boot-a');
    expect(old).toEqual({ granted: false, reason: 'this agentd boot (lease 1) was superseded by lease 2; stop it' });
    expect(leases.acquire('ag_1', 'boot-b')).toEqual({ granted: true, fence: 2 });
    expect(leases.current('ag_1')).toEqual({ fence: 2, bootId: 'boot-b' });
    db.close();
  });
});
