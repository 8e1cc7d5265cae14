// Builds the console (console/src -> console/dist). `--check` builds into a
// temporary directory instead and fails when the committed console/dist differs,
// so the pages the hub serves cannot drift from their source; it also holds the
// JavaScript to its budget (250 KB compressed).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const committed = join(root, 'console', 'dist');
const check = process.argv.includes('--check');
const outDir = check ? mkdtempSync(join(tmpdir(), 'console-dist-')) : committed;
const BUDGET = 250 * 1024;

const walk = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
const files = (dir) => new Map(walk(dir).map((f) => [relative(dir, f), readFileSync(f)]));

try {
  await build({ configFile: join(root, 'console', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'warn' });
  const built = files(outDir);
  const js = [...built].filter(([n]) => n.endsWith('.js'));
  const gz = js.reduce((s, [, b]) => s + gzipSync(b, { level: 9 }).length, 0);
  console.log(`console JavaScript: ${js.length} files, ${(js.reduce((s, [, b]) => s + b.length, 0) / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped (budget ${BUDGET / 1024} KB)`);
  if (gz > BUDGET) {
    console.error(`console JavaScript is ${(gz / 1024).toFixed(1)} KB gzipped, over the ${BUDGET / 1024} KB budget`);
    process.exit(1);
  }
  if (check) {
    const have = files(committed);
    const stale = [...new Set([...built.keys(), ...have.keys()])].filter((n) => !built.get(n)?.equals(have.get(n) ?? Buffer.alloc(0)) || !have.has(n));
    if (stale.length > 0) {
      console.error(`console/dist is stale (${stale.join(', ')}). Run \`npm run build:console\` and commit console/dist.`);
      process.exit(1);
    }
    console.log('console/dist is up to date');
  } else console.log('built console/dist');
} finally {
  if (check) rmSync(outDir, { recursive: true, force: true });
}
