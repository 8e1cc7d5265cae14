// Generates TypeScript types for proto/ with proto-loader-gen-types into proto/gen.
// `--check` regenerates into a scratch directory and fails when the committed
// files differ, so a .proto change without regenerated types cannot land.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const committed = join(root, 'proto/gen');
const check = process.argv.includes('--check');
const out = mkdtempSync(join(tmpdir(), 'proto-gen-'));

execFileSync(process.execPath, [
  join(root, 'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js'),
  '--grpcLib=@grpc/grpc-js', '--longs=Number', '--enums=String', '--defaults', '--oneofs',
  '--keepCase=false', '--importFileExtension=.ts', '--includeComments',
  `--includeDirs=${join(root, 'proto')}`, `--outDir=${out}`, 'agentplane/v1/agentplane.proto',
], { stdio: 'inherit' });

// proto-loader-gen-types writes the absolute .proto path into each file; make it
// relative so the output does not depend on where the repository is cloned.
function normalise(dir) {
  for (const [rel, text] of files(dir)) {
    writeFileSync(join(dir, rel), text.split(`${root}/`).join(''));
  }
}

function files(dir) {
  const seen = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else seen.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  try { walk(dir); } catch { /* missing dir: compare as empty */ }
  return seen;
}

normalise(out);

if (check) {
  const want = files(out);
  const have = files(committed);
  const diff = [...new Set([...want.keys(), ...have.keys()])].filter((k) => want.get(k) !== have.get(k));
  rmSync(out, { recursive: true, force: true });
  if (diff.length > 0) {
    console.error(`proto/gen is stale: ${diff.join(', ')} differ. Run \`npm run gen:proto\` and commit.`);
    process.exit(1);
  }
  console.log('proto/gen is up to date');
} else {
  rmSync(committed, { recursive: true, force: true });
  cpSync(out, committed, { recursive: true });
  rmSync(out, { recursive: true, force: true });
  console.log(`generated ${[...files(committed).keys()].length} files in proto/gen`);
}
