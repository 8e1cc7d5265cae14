import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'cli-start-'));

/** Runs bin/planes.js with the module-trace hook; its exit code and every module it loaded, relative to the repository. */
function loaded(...args: string[]): { status: number | null; stderr: string; modules: string[] } {
  const out = join(dir, `${args.join('-').replace(/\W+/g, '_')}.txt`);
  const r = spawnSync(process.execPath, ['--import', './test/helpers/module-trace.mjs', 'bin/planes.js', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], MODULE_TRACE_OUT: out, PLANES_HUB: 'http://127.0.0.1:1', PLANES_TOKEN: 'apt1.unused' },
  });
  const root = new URL('../', import.meta.url).href;
  return { status: r.status, stderr: r.stderr, modules: readFileSync(out, 'utf8').split('\n').filter(Boolean).map((m) => m.replace(root, '')) };
}

/** What only a running hub needs. */
const HEAVY = /^(node_modules\/(fastify|@fastify|@grpc|better-sqlite3|ajv)\/|hub\/|agentd\/|cli\/up\.ts$)/;

// `planes up` runs a hub in-process; every other command is a REST client and starts without it.
describe('planes start-up', () => {
  it('loads no hub, gRPC, SQLite or runtime-manager module for --help or status', () => {
    for (const args of [['--help'], ['status'], ['list', '--json']]) {
      const r = loaded(...args);
      expect(r.status, r.stderr).toBe(args[0] === '--help' ? 0 : 5);
      expect(r.modules, args.join(' ')).toContain('cli/program.ts');
      expect(r.modules.filter((m) => HEAVY.test(m)), args.join(' ')).toEqual([]);
    }
  });

  it('loads the hub when up runs', () => {
    const r = loaded('up', '-f', join(dir, 'missing.yaml'));
    expect(r.status).toBe(2);
    expect(r.modules).toContain('cli/up.ts');
    expect(r.modules).toContain('hub/src/hub.ts');
  });
});
