/**
 * Image build step: writes /etc/agentd/image.json, the record of every version the
 * image pins: the base system, agents-plane and its dependencies, agentd's own
 * Node, the runtime pins and what is preinstalled in the runtime root.
 *
 *   node images/write-image-record.ts --prefix DIR --runtime-root DIR --preinstall all|node|none --out FILE
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PINNED_RUNTIME } from '../common/src/runtime/pins.ts';

const { values } = parseArgs({ options: { prefix: { type: 'string' }, 'runtime-root': { type: 'string' }, preinstall: { type: 'string' }, out: { type: 'string' } } });
const { prefix, 'runtime-root': runtimeRoot, preinstall, out } = values;
if (!prefix || !runtimeRoot || !preinstall || !out) {
  console.error('usage: node images/write-image-record.ts --prefix DIR --runtime-root DIR --preinstall all|node|none --out FILE');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(prefix, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
// Only prefixes the runtime manager verified count (it writes .verified.json last).
const installed = (kind: string): string[] =>
  existsSync(join(runtimeRoot, kind)) ? readdirSync(join(runtimeRoot, kind)).filter((v) => existsSync(join(runtimeRoot, kind, v, '.verified.json'))).sort() : [];
const osRelease = Object.fromEntries(
  readFileSync('/etc/os-release', 'utf8')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^"|"$/g, '')]),
) as Record<string, string>;
const record = {
  builtAt: new Date().toISOString(),
  base: osRelease['PRETTY_NAME'] ?? 'unknown',
  agentsPlane: pkg.version,
  agentdNode: process.versions.node,
  runtime: { node: PINNED_RUNTIME.node, openclaw: PINNED_RUNTIME.openclaw, root: runtimeRoot, preinstall },
  preinstalled: { node: installed('node'), openclaw: installed('openclaw') },
  dependencies: pkg.dependencies,
};
writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
console.error(`wrote ${out}`);
