/**
 * planes CLI start-up: wall time from exec to exit of `planes --help` and of
 * `planes status --json` against a real hub (a `hub serve` child with one
 * manual plane), next to a bare `node -e 0` in the same run, and the number of
 * modules each loads (counted by test/helpers/module-trace.mjs; this figure
 * does not depend on how busy the machine is).
 *
 *   npm run bench:cli -- [--runs 15] [--json]
 *
 * The commands run in turn (bare node, help, status, bare node, ...) so that
 * machine noise falls on all of them alike; the figures are the median and the
 * fastest run, and the median as a ratio to bare node.
 * Target: neither command loads fastify, @grpc/grpc-js, better-sqlite3, the
 * runtime manager or any module under hub/ (only `planes up` runs a hub).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchMain } from './bench-main.ts';

interface Options {
  runs: number;
  timeoutS: number;
  json: boolean;
}
interface Row {
  name: string;
  medianMs: number;
  minMs: number;
  modules: number;
  heavy: string[];
}
interface Report {
  ok: boolean;
  failures: string[];
  warnings: string[];
  machine: { cpus: number; load1: number };
  rows: Row[];
}

const dir = mkdtempSync(join(tmpdir(), 'cli-start-bench-'));
const dataDir = join(dir, 'hub');
let hub: ReturnType<typeof spawn> | undefined;

/** Modules that only a running hub needs. */
const HEAVY = /\/node_modules\/(fastify|@fastify|@grpc|better-sqlite3)\/|\/runtime-manager\.ts$|\/hub\/src\//;

const CASES: Array<{ name: string; args: string[] }> = [
  { name: 'node -e 0 (bare Node start)', args: ['-e', '0'] },
  { name: 'planes --help', args: ['bin/planes.js', '--help'] },
  { name: 'planes status --json', args: ['bin/planes.js', 'status', '--json'] },
];

function once(args: string[], trace?: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, trace ? ['--import', './test/helpers/module-trace.mjs', ...args] : args, {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], PLANES_DATA_DIR: dataDir, ...(trace ? { MODULE_TRACE_OUT: trace } : {}) },
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

async function startHub(): Promise<void> {
  hub = spawn(process.execPath, ['bin/hub.js', 'serve', '--data-dir', dataDir, '--grpc-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0'], { stdio: 'ignore' });
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(dataDir, 'hub.json'))) {
    if (Date.now() > deadline || hub.exitCode !== null) throw new Error('the hub did not start within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  once(['bin/planes.js', 'create', '--name', 'bench', '--infra-provider', 'manual', '--json']);
}

async function run(o: Options): Promise<Report> {
  await startHub();
  const samples = CASES.map(() => [] as number[]);
  for (let i = 0; i < o.runs; i++) CASES.forEach((c, j) => samples[j]?.push(once(c.args)));
  const rows = CASES.map((c, j): Row => {
    const trace = join(dir, `trace-${j}.txt`);
    once(c.args, trace);
    const modules = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    const xs = [...(samples[j] ?? [])].sort((a, b) => a - b);
    return { name: c.name, medianMs: xs[Math.floor(xs.length / 2)] ?? 0, minMs: xs[0] ?? 0, modules: modules.length, heavy: modules.filter((m) => HEAVY.test(m)) };
  });
  const failures = rows.filter((r) => r.heavy.length > 0).map((r) => `${r.name} loads ${r.heavy.length} modules only a hub needs, e.g. ${r.heavy.slice(0, 3).join(', ')}`);
  return { ok: failures.length === 0, failures, warnings: [], machine: { cpus: cpus().length, load1: loadavg()[0] ?? 0 }, rows };
}

function figureLines(r: Report): string[] {
  const bare = r.rows[0]?.medianMs ?? 1;
  return [
    `planes start-up: ${r.rows.length} commands, median and fastest of the runs, ratio to bare Node; ${r.machine.cpus} CPUs, load ${r.machine.load1.toFixed(1)}`,
    ...r.rows.map((x) => `  ${x.name.padEnd(30)} ${x.medianMs.toFixed(0).padStart(6)} ms median ${x.minMs.toFixed(0).padStart(6)} ms fastest (${(x.medianMs / bare).toFixed(2)}x) ${String(x.modules).padStart(5)} modules`),
  ];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: '15' }, 'timeout-s': { type: 'string', default: '600' }, json: { type: 'boolean', default: false } }, strict: true });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number >= 1, got '${values.runs}'`);
  return { runs, timeoutS: Number(values['timeout-s']), json: values.json };
}

benchMain({
  parseOptions,
  run,
  figureLines,
  cleanup: async () => {
    if (hub && hub.exitCode === null) {
      const exited = new Promise((r) => hub?.once('exit', r));
      hub.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  },
  progress: (l) => process.stderr.write(`${l}\n`),
});
