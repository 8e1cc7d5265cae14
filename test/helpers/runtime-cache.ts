import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * One shared runtime root for every test that runs a real gateway, so the
 * pinned Node and OpenClaw (about 650 MB) are installed once per machine and
 * verified on each use. Under node_modules/.cache: never committed, gone with
 * a clean install. AGENTPLANE_TEST_RUNTIME_ROOT overrides it.
 */
export function testRuntimeRoot(): string {
  return process.env['AGENTPLANE_TEST_RUNTIME_ROOT'] ?? join(fileURLToPath(new URL('../..', import.meta.url)), 'node_modules', '.cache', 'agents-plane', 'runtime');
}
