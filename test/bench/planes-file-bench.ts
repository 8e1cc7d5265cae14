/**
 * planes.yaml benchmark: what reading a hostile or huge file costs the CLI,
 * next to a legitimate 10,000-agent plane (about 1.5 MB) in the same run.
 * Each case runs `--runs` times in a fresh process (test/bench/planes-file-worker.ts)
 * that reads and checks the file as `planes apply` does; the figures are the
 * median time and peak RSS, and ratios to the legitimate plane.
 *
 *   npm run bench:planes-file -- [--runs 3] [--json]
 *
 * Targets: every hostile case is refused, at no more than 1.5 times the time
 * and peak memory the legitimate plane takes (those stopped by the line and
 * value limits read about as much as it does; the rest stop far sooner), and
 * the 50 MB files in under 1 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { baseFile, hostileCases } from '../helpers/hostile-yaml.ts';
import { benchMain } from './bench-main.ts';

interface Options {
  runs: number;
  timeoutS: number;
  json: boolean;
}
interface Row {
  name: string;
  bytes: number;
  ms: number;
  maxRssMb: number;
  outcome: string;
}
interface Report {
  ok: boolean;
  failures: string[];
  warnings: string[];
  machine: { cpus: number; load1: number };
  startup: Row;
  legitimate: Row;
  hostile: Row[];
}

const dir = mkdtempSync(join(tmpdir(), 'planes-file-bench-'));
const example = baseFile(readFileSync('examples/planes.yaml', 'utf8'), 'bench');

function measure(name: string, path: string, runs: number): Row {
  const samples = Array.from({ length: runs }, () => {
    const r = spawnSync(process.execPath, ['test/bench/planes-file-worker.ts', path], { encoding: 'utf8', maxBuffer: 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${name}: the worker exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { ms: number; maxRssMb: number; outcome: string };
  });
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const bytes = path === '-' ? 0 : readFileSync(path).length;
  return { name, bytes, ms: median(samples.map((s) => s.ms)), maxRssMb: median(samples.map((s) => s.maxRssMb)), outcome: (samples[0] as { outcome: string }).outcome };
}

async function run(o: Options): Promise<Report> {
  const legitPath = join(dir, 'legitimate.yaml');
  const head = example.slice(0, example.indexOf('  policies:'));
  const agents = Array.from({ length: 9997 }, (_, i) => `    - name: person-${i}\n      owner: person.${i}@acme.example\n      groups: [engineering@acme.example]\n      ou: /Sales/EMEA\n      tools: [email, calendar]\n`).join('');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(legitPath, `${head}${agents}${example.slice(example.indexOf('  policies:'))}`);
  const startup = measure('startup (code loaded, nothing read)', '-', o.runs);
  const legitimate = measure('a legitimate plane of 10,000 agents', legitPath, o.runs);
  const hostile: Row[] = [];
  for (const c of hostileCases(example).filter((x) => !x.viaStdin)) {
    const path = join(dir, 'case.yaml');
    if (c.write) c.write(path);
    else writeFileSync(path, c.bytes as Buffer);
    hostile.push(measure(c.name, path, o.runs));
    rmSync(path);
  }
  const failures: string[] = [];
  if (!legitimate.outcome.startsWith('accepted')) failures.push(`the legitimate plane was not accepted: ${legitimate.outcome}`);
  for (const h of hostile) {
    if (!h.outcome.startsWith('refused')) failures.push(`${h.name} was not refused`);
    if (h.bytes > 10 * 1024 * 1024 && h.ms > 1000) failures.push(`${h.name}: ${h.ms.toFixed(0)} ms, over 1 s`);
    if (h.ms > 1.5 * legitimate.ms || h.maxRssMb > 1.5 * legitimate.maxRssMb) failures.push(`${h.name} cost more than 1.5 times the legitimate plane`);
  }
  return { ok: failures.length === 0, failures, warnings: [], machine: { cpus: cpus().length, load1: loadavg()[0] ?? 0 }, startup, legitimate, hostile };
}

function figureLines(r: Report): string[] {
  const mb = (b: number): string => (b / 1024 / 1024).toFixed(1).padStart(6);
  const line = (x: Row): string =>
    `  ${x.name.padEnd(44)} ${mb(x.bytes)} MB ${x.ms.toFixed(0).padStart(6)} ms (${(x.ms / r.legitimate.ms).toFixed(2)}x) ${x.maxRssMb.toFixed(0).padStart(5)} MB RSS (${(x.maxRssMb / r.legitimate.maxRssMb).toFixed(2)}x)`;
  return [
    `planes.yaml: median of the runs, ratios to the legitimate plane; ${r.machine.cpus} CPUs, load ${r.machine.load1.toFixed(1)}`,
    line(r.startup),
    line(r.legitimate),
    ...r.hostile.map(line),
  ];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: '3' }, 'timeout-s': { type: 'string', default: '600' }, json: { type: 'boolean', default: false } }, strict: true });
  return { runs: Number(values.runs), timeoutS: Number(values['timeout-s']), json: values.json };
}

benchMain({
  parseOptions,
  run,
  figureLines,
  cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  progress: (l) => process.stderr.write(`${l}\n`),
});
