/**
 * Image build step: installs the runtime this agentd release is pinned to
 * (common/src/runtime/pins.ts) into the runtime root with the runtime manager,
 * the same verified path agentd takes at its start, so a fresh instance finds it
 * installed and downloads nothing.
 *
 *   node images/install-runtime.ts --root DIR [--what all|node]
 */
import { parseArgs } from 'node:util';
import { Logger } from '../common/src/logger.ts';
import { PINNED_RUNTIME } from '../common/src/runtime/pins.ts';
import { RuntimeManager } from '../common/src/runtime/runtime-manager.ts';

const { values } = parseArgs({ options: { root: { type: 'string' }, what: { type: 'string', default: 'all' } } });
if (!values.root || (values.what !== 'all' && values.what !== 'node')) {
  console.error('usage: node images/install-runtime.ts --root DIR [--what all|node]');
  process.exit(2);
}
const manager = new RuntimeManager({
  root: values.root,
  log: new Logger('image-build'),
  onProgress: (m) => console.error(`runtime: ${m}`),
});
const started = Date.now();
if (values.what === 'node') {
  console.log(await manager.installNode(PINNED_RUNTIME.node));
} else {
  const paths = await manager.install(PINNED_RUNTIME);
  manager.activate(PINNED_RUNTIME);
  console.log(paths.nodeBin);
}
console.error(`runtime: ${values.what === 'node' ? `node ${PINNED_RUNTIME.node}` : `node ${PINNED_RUNTIME.node} + openclaw ${PINNED_RUNTIME.openclaw}`} installed in ${Math.round((Date.now() - started) / 1000)} s`);
