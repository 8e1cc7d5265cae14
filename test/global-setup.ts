import { PINNED_RUNTIME } from '../common/src/runtime/pins.ts';
import { RuntimeManager } from '../common/src/runtime/runtime-manager.ts';
import { Logger, silentSink } from '../common/src/logger.ts';
import { testRuntimeRoot } from './helpers/runtime-cache.ts';

/** Installs (or verifies) the pinned runtime once, before any test file starts. */
export default async function setup(): Promise<void> {
  const t0 = Date.now();
  const manager = new RuntimeManager({
    root: testRuntimeRoot(),
    log: new Logger('test-setup', { sink: silentSink }),
    onProgress: (m) => process.stderr.write(`[test setup] ${m}\n`),
  });
  await manager.install({ ...PINNED_RUNTIME });
  process.stderr.write(`[test setup] pinned runtime ready in ${Math.round((Date.now() - t0) / 1000)} s at ${testRuntimeRoot()}\n`);
}
