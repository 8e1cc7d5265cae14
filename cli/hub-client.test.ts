import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTarget } from './hub-client.ts';

describe('resolveTarget', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-client-'));
  writeFileSync(join(dir, 'admin.token'), 'apt1.local-admin\n');
  writeFileSync(join(dir, 'hub.json'), JSON.stringify({ apiUrl: 'http://127.0.0.1:7480', adminTokenFile: join(dir, 'admin.token') }));

  it('uses the local hub and its admin token when nothing else is given', () => {
    expect(resolveTarget({ dataDir: dir }, {})).toEqual({ url: 'http://127.0.0.1:7480', token: 'apt1.local-admin' });
  });

  it('never sends the local admin token to a hub named elsewhere', () => {
    expect(() => resolveTarget({ dataDir: dir, hub: 'http://hub.example:7480' }, {})).toThrow(/no API token/);
    expect(resolveTarget({ dataDir: dir }, { PLANES_HUB: 'http://hub.example:7480', PLANES_TOKEN: 'apt1.other' })).toEqual({ url: 'http://hub.example:7480', token: 'apt1.other' });
  });
});
