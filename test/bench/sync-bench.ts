/**
 * Brain sync benchmark: agentd's BrainSync against a LocalBucket, on a
 * generated workspace (N files, about M MiB, nested dirs: many small markdown
 * files and a few large binary ones, pseudo-random but deterministic) and a
 * live SQLite database (WAL mode, kept open and written to now and then, as a
 * running gateway does). Everything lives in one temp dir, removed at the end.
 *
 *  1. initial full push (files + database snapshot): time and throughput;
 *  2. change-to-durable latency with the watcher running (default debounce):
 *     from the write until the committed manifest has the file's new size/mtime;
 *  3. re-sync after one changed file (full rescan + upload + commit), side by
 *     side with `rsync -a` and `rclone sync` to an already synced local dir;
 *  4. cold restore on a fresh machine dir vs `cp -r` of the same data;
 *  5. the shutdown final sync with 100 dirty files.
 *
 *   npm run bench:sync -- [--files 10000] [--mb 200] [--db-mb 50] [--keep] [--json]
 *
 * Exits non-zero if something failed outright; a missed target is reported, not fatal.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { BrainSync, DEFAULT_SYNC_SETTINGS, type PushResult } from '../../agentd/src/sync/brain-sync.ts';
import { BrainKey } from '../../common/src/brain/brain-crypto.ts';
import { BrainStore } from '../../common/src/brain/brain-store.ts';
import { LocalBucket } from '../../common/src/brain/local-bucket.ts';
import { Logger, type LogRecord } from '../../common/src/logger.ts';
import { percentile, round } from './proc-stats.ts';
import { benchArgs, benchMain } from './bench-main.ts';

const USAGE = `usage: node test/bench/sync-bench.ts [--files N] [--mb MB] [--db-mb MB] [--seed N]
       [--latency-iterations N] [--resync-iterations N] [--restore-runs N] [--timeout-s S] [--keep] [--json]
  --keep leaves the temp dir (workspace, bucket, copies) in place and prints where it is.`;

const MiB = 1024 * 1024;
const KiB = 1024;
const TARGET = { latencyP95S: 2, resyncS: 1, restoreRatio: 1.5, finalSyncS: 5 } as const;
const FINAL_DIRTY_FILES = 100;
const FINAL_DEADLINE_MS = 25_000;
const PLANE = 'bench';
const AGENT = 'main';

interface Options {
  files: number;
  mb: number;
  dbMb: number;
  seed: number;
  latencyIterations: number;
  resyncIterations: number;
  restoreRuns: number;
  timeoutS: number;
  keep: boolean;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values, num } = benchArgs(argv, USAGE, {
    files: { type: 'string', default: '10000' },
    mb: { type: 'string', default: '200' },
    'db-mb': { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    'latency-iterations': { type: 'string', default: '30' },
    'resync-iterations': { type: 'string', default: '10' },
    'restore-runs': { type: 'string', default: '3' },
    'timeout-s': { type: 'string', default: '3600' },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  return {
    files: num('files', 20),
    mb: num('mb', 1, false),
    dbMb: num('db-mb', 1, false),
    seed: num('seed', 1),
    latencyIterations: num('latency-iterations', 1),
    resyncIterations: num('resync-iterations', 1),
    restoreRuns: num('restore-runs', 1),
    timeoutS: num('timeout-s', 30),
    keep: values.keep,
    json: values.json,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function progress(text: string): void {
  process.stderr.write(`[sync-bench] ${text}\n`);
}

/** xorshift32: deterministic, fast, good enough for file contents and choices. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed | 0 || 0x2545f491;
    for (let i = 0; i < 8; i++) this.u32();
  }

  u32(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x;
    return x >>> 0;
  }

  float(): number {
    return this.u32() / 4294967296;
  }

  /** Whole number in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)] as T;
  }

  bytes(n: number): Buffer {
    const words = new Int32Array(Math.ceil(n / 4));
    let x = this.#s;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    this.#s = x;
    return Buffer.from(words.buffer, 0, n);
  }
}

const WORDS = (
  'agent memory session model tool call result user note plan task project review idea draft decision context summary ' +
  'follow-up meeting schedule budget design api schema migration deploy release test failure retry timeout queue worker ' +
  'customer invoice report metric latency throughput cluster region bucket snapshot restore backup policy owner team ' +
  'alpha beta gamma delta kappa sigma omega north south east west river mountain forest garden kitchen library station'
).split(' ');
const TOP_DIRS = ['projects', 'notes', 'research', 'people', 'journal', 'docs', 'skills', 'reference'];

/** Markdown-ish text (headings, paragraphs, lists, ids) to cut small files from. */
function textPool(rng: Rng, bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    let p: string;
    const r = rng.float();
    if (r < 0.1) p = `\n## ${rng.pick(WORDS)} ${rng.pick(WORDS)} ${rng.u32().toString(36)}\n\n`;
    else if (r < 0.3) p = `- ${rng.pick(WORDS)} ${rng.pick(WORDS)} ${rng.pick(WORDS)} (#${rng.u32().toString(16)})\n`;
    else {
      const words: string[] = [];
      for (let i = rng.int(12, 60); i > 0; i--) words.push(rng.float() < 0.08 ? rng.u32().toString(36) : rng.pick(WORDS));
      p = `${words.join(' ')}.\n`;
    }
    parts.push(p);
    n += p.length;
  }
  return Buffer.from(parts.join(''), 'utf8');
}

interface PlannedFile {
  rel: string;
  size: number;
  large: boolean;
}

interface Plan {
  dirs: string[];
  files: PlannedFile[];
  bytes: number;
}

/** Where the files go and how big they are; ~45 % of the bytes in a few 1-5 MiB files, the rest in 1-30 KiB markdown. */
function planWorkspace(o: Options, rng: Rng): Plan {
  const total = o.mb * MiB;
  const nDirs = Math.max(2, Math.round(o.files / 40));
  const dirs: string[] = [];
  for (let i = 0; i < nDirs; i++) {
    let parent = dirs.length > 0 && rng.float() < 0.75 ? rng.pick(dirs) : '';
    if (parent.split('/').length >= 5) parent = '';
    dirs.push(parent ? `${parent}/${rng.pick(WORDS)}-${i}` : `${rng.pick(TOP_DIRS)}-${i}`);
  }
  const largeBudget = total * 0.45;
  const nLarge = Math.min(Math.max(1, Math.round(largeBudget / (3 * MiB))), Math.floor(o.files / 20));
  const nSmall = o.files - nLarge;
  const avg = Math.min(30 * KiB, Math.max(KiB, (total - (nLarge > 0 ? largeBudget : 0)) / nSmall));
  const files: PlannedFile[] = [];
  const roots = ['MEMORY.md', 'SOUL.md', 'AGENTS.md'];
  let small = 0;
  for (let i = 0; i < nSmall; i++) {
    const size = Math.round(Math.min(30 * KiB, Math.max(KiB, KiB + 2 * (avg - KiB) * rng.float())));
    small += size;
    const rel = i < roots.length ? (roots[i] as string) : rng.float() < 0.05 ? `memory/note-${i}.md` : `${rng.pick(dirs)}/${rng.pick(WORDS)}-${i}.md`;
    files.push({ rel, size, large: false });
  }
  const left = Math.max(0, total - small);
  const weights = Array.from({ length: nLarge }, () => 0.3 + 0.7 * rng.float());
  const wsum = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < nLarge; i++) {
    const size = Math.round(Math.min(5 * MiB, Math.max(256 * KiB, (left * (weights[i] as number)) / wsum)));
    files.push({ rel: `attachments/${rng.pick(WORDS)}-${i}.pdf`, size, large: true });
  }
  return { dirs: ['memory', 'attachments', ...dirs], files, bytes: files.reduce((s, f) => s + f.size, 0) };
}

function writeWorkspace(workspace: string, plan: Plan, rng: Rng): void {
  for (const d of plan.dirs) mkdirSync(join(workspace, d), { recursive: true });
  const pool = textPool(rng, 8 * MiB);
  for (const f of plan.files) {
    let data: Buffer;
    if (f.large) data = rng.bytes(f.size);
    else {
      const header = Buffer.from(`# ${f.rel}\n\nid ${rng.u32().toString(16)}${rng.u32().toString(16)}\n\n`, 'utf8');
      const body = Math.max(0, f.size - header.length);
      const at = rng.int(0, pool.length - body);
      data = Buffer.concat([header, pool.subarray(at, at + body)]).subarray(0, f.size);
    }
    writeFileSync(join(workspace, f.rel), data);
  }
}

/** A gateway's agent database: sessions plus a filler table of random blobs, in WAL mode, left open. */
function createDatabase(path: string, mb: number, rng: Rng): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE sessions (id TEXT PRIMARY KEY, updated_at INTEGER NOT NULL, transcript TEXT NOT NULL)');
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const pool = textPool(rng, 2 * MiB);
  const addSession = db.prepare('INSERT INTO sessions VALUES (?, ?, ?)');
  const addBlob = db.prepare('INSERT INTO filler (data) VALUES (?)');
  let bytes = 0;
  db.transaction(() => {
    for (let i = 0; i < 200; i++) {
      const len = rng.int(2 * KiB, 20 * KiB);
      const at = rng.int(0, pool.length - len);
      addSession.run(`session-${i}`, Date.now(), pool.subarray(at, at + len).toString('utf8'));
      bytes += len;
    }
    while (bytes < mb * MiB) {
      addBlob.run(rng.bytes(48 * KiB));
      bytes += 48 * KiB;
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  return db;
}

interface Machine {
  root: string;
  workspace: string;
  dbDir: string;
  stateDir: string;
}

function machine(root: string): Machine {
  const m = { root, workspace: join(root, 'workspace'), dbDir: join(root, 'openclaw'), stateDir: join(root, 'agentd') };
  for (const d of Object.values(m)) mkdirSync(d, { recursive: true });
  return m;
}

const DB_REL = join('agents', 'main', 'agent', 'openclaw-agent.sqlite');

/** Calls back when the committed manifest changes (onChange), and polls every 10 ms besides. */
class CommitWatch {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** performance.now() when pred first holds, or null after timeoutMs. */
  until(pred: () => boolean, timeoutMs: number): Promise<number | null> {
    if (pred()) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const check = (): void => {
        if (!pred()) return;
        done(performance.now());
      };
      const poll = setInterval(check, 10);
      const timer = setTimeout(() => done(null), timeoutMs);
      const done = (at: number | null): void => {
        clearInterval(poll);
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(at);
      };
      this.#waiters.add(check);
    });
  }
}

/** One run of an external command: wall time in ms (process start-up included). */
function runTool(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
    });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}: ${err.trim().slice(-400)}`));
    });
  });
}

function installed(cmd: string): boolean {
  return !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;
}

/** Writes dirty pages back (drops nothing from the page cache), so one run's writeback does not land in the next. */
function flush(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

/**
 * How long creating empty files takes here, in ms per 1000. On ext4 without a
 * journal the inode allocator skips inodes freed in the last 1-6 minutes
 * (recently_deleted()), reading inode tables as it goes: after a large delete
 * (a previous run's cleanup) creating files is 10-50x slower for minutes.
 * The probe files are left in place (deleting them would add to the effect).
 */
function fsCreateProbe(dir: string, n = 2000): number {
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `p${i}`), '');
  return ((performance.now() - t0) / n) * 1000;
}

/** Above this many ms per 1000 empty-file creates, file-heavy figures (restore, cp, initial push) are not representative. */
const SLOW_CREATE_MS_PER_1000 = 150;

interface DiskUsage {
  files: number;
  bytes: number;
  allocatedBytes: number;
}

function diskUsage(dir: string, filter: (rel: string) => boolean = () => true, rel = ''): DiskUsage {
  const u: DiskUsage = { files: 0, bytes: 0, allocatedBytes: 0 };
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      const sub = diskUsage(dir, filter, r);
      u.files += sub.files;
      u.bytes += sub.bytes;
      u.allocatedBytes += sub.allocatedBytes;
    } else if (filter(r)) {
      const st = lstatSync(join(dir, r));
      u.files++;
      u.bytes += st.size;
      u.allocatedBytes += st.blocks * 512;
    }
  }
  return u;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

const mb = (bytes: number): number => round(bytes / MiB, 1);
const ms = (v: number): number => Math.round(v);

interface ToolColumn {
  installed: boolean;
  samplesMs: number[];
  medianMs: number;
  initialMs: number;
}

interface Report {
  node: string;
  machine: { cores: number; cpuModel: string; memGb: number; loadavgAtStart: number[]; fsCreateMsPer1000AtStart: number; fsCreateMsPer1000BeforeRestore: number };
  setup: { files: number; dirs: number; largeFiles: number; workspaceMb: number; dbMb: number; setupS: number; seed: number };
  initialPush: { s: number; mbPerS: number; uploadedFiles: number; databases: number; rsyncS: number | null; rcloneS: number | null };
  latency: {
    iterations: number;
    newFiles: number;
    watcherReadyS: number;
    samplesMs: number[];
    p50Ms: number;
    p95Ms: number;
    maxMs: number;
    timeouts: number;
    pushes: number;
    medianPushMs: number;
    snapshotPushes: number;
    debounceMs: number;
    maxWaitMs: number;
    targetS: number;
    met: boolean;
  };
  resync: {
    iterations: number;
    samplesMs: number[];
    medianMs: number;
    medianPushMs: number;
    rsync: ToolColumn;
    rclone: ToolColumn;
    targetS: number;
    met: boolean;
  };
  restore: { runs: number; restoreMs: number[]; cpMs: number[]; medianRestoreMs: number; medianCpMs: number; ratio: number; files: number; databases: number; targetRatio: number; met: boolean };
  finalSync: { dirtyFiles: number; ms: number; uploadedFiles: number; databases: number; outcome: string; targetS: number; met: boolean };
  dataKeyRotation: { ms: number; snapshots: number; chunks: number; deleted: number; vsInitialPush: number };
  bucket: { objects: number; bytes: number; allocatedBytes: number; chunks: number; chunkBytes: number; manifests: number; manifestBytes: number; sourceBytes: number; ratio: number };
  dbWritesDuringRun: number;
  peakRssMb: number;
  ok: boolean;
  failures: string[];
  warnings: string[];
}

/** Everything that must be undone however the run ends. */
const live: { dir?: string; keep?: boolean; db?: Database.Database; writer?: NodeJS.Timeout; syncs: BrainSync[]; cleaning?: Promise<void> } = { syncs: [] };

function cleanup(): Promise<void> {
  live.cleaning ??= (async () => {
    if (live.writer) clearInterval(live.writer);
    for (const s of live.syncs) await s.stop().catch(() => undefined);
    try {
      live.db?.close();
    } catch {
      // already closed
    }
    if (live.dir) {
      if (live.keep) progress(`kept ${live.dir}`);
      else rmSync(live.dir, { recursive: true, force: true });
    }
  })();
  return live.cleaning;
}

async function run(o: Options): Promise<Report> {
  const failures: string[] = [];
  const warnings: string[] = [];
  const loadAtStart = loadavg().map((l) => round(l, 2));
  const dir = mkdtempSync(join(tmpdir(), 'sync-bench-'));
  live.dir = dir;
  live.keep = o.keep;
  progress(`working in ${dir}`);
  const createAtStart = fsCreateProbe(join(dir, 'fs-probe-start'));
  progress(`file system: ${round(createAtStart)} ms per 1000 empty-file creates`);
  const slowFs = (ms: number, when: string): void => {
    if (ms > SLOW_CREATE_MS_PER_1000) {
      warnings.push(
        `creating files in ${tmpdir()} was slow ${when} (${round(ms)} ms per 1000 empty files, > ${SLOW_CREATE_MS_PER_1000}): ` +
          'on ext4 without a journal, inodes freed in the last minutes (e.g. by a previous run\'s cleanup) make creates scan the inode tables; ' +
          'file-heavy figures (initial push, restore, cp -r) are inflated: wait ~6 minutes after a large delete and run again',
      );
    }
  };
  slowFs(createAtStart, 'at start');

  // Setup: workspace, live database, bucket.
  const setupStart = performance.now();
  const rng = new Rng(o.seed);
  const a = machine(join(dir, 'a'));
  const plan = planWorkspace(o, rng);
  writeWorkspace(a.workspace, plan, rng);
  progress(`workspace: ${plan.files.length} files, ${mb(plan.bytes)} MiB in ${plan.dirs.length} dirs`);
  const dbPath = join(a.dbDir, DB_REL);
  const db = createDatabase(dbPath, o.dbMb, rng);
  live.db = db;
  const dbBytes = statSync(dbPath).size;
  progress(`database: ${mb(dbBytes)} MiB at ${dbPath} (WAL, kept open)`);
  let dbWrites = 0;
  const touchDb = db.prepare('INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)');
  live.writer = setInterval(() => {
    touchDb.run(`live-${dbWrites % 50}`, Date.now(), `turn ${dbWrites} at ${new Date().toISOString()}`);
    dbWrites++;
  }, 1000);
  live.writer.unref();
  const setupS = (performance.now() - setupStart) / 1000;

  const bucketDir = join(dir, 'bucket');
  await LocalBucket.create(bucketDir);
  const rawKey = BrainKey.generate();
  const key = new BrainKey(rawKey);
  const pushLog: LogRecord[] = [];
  const sink = (r: LogRecord): void => {
    if (r.msg === 'brain pushed') pushLog.push(r);
    else if (r.level === 'error') warnings.push(`brain sync logged an error: ${r.msg} ${JSON.stringify(r['reason'] ?? '')}`.trim());
  };
  const log = new Logger('sync-bench', { sink });
  const watch = new CommitWatch();
  const newSync = (m: Machine, fence: number): BrainSync => {
    const store = new BrainStore({ bucket: new LocalBucket(bucketDir), plane: PLANE, agent: AGENT, key });
    const s = new BrainSync({ store, workspaceDir: m.workspace, databaseDir: m.dbDir, stateDir: m.stateDir, fence: () => fence, log, onChange: () => watch.notify() });
    live.syncs.push(s);
    return s;
  };
  const sync = newSync(a, 1);
  const names = plan.files.map((f) => f.rel);
  const smallNames = plan.files.filter((f) => !f.large).map((f) => f.rel);
  let edits = 0;
  /** Appends a line to a workspace file, as an agent adding to a note does. */
  const edit = (rel: string): void => {
    edits++;
    appendFileSync(join(a.workspace, rel), `\n- edit ${edits} at ${new Date().toISOString()} ${rng.u32().toString(36)}\n`);
  };

  // 1. Initial full push.
  progress('1. initial full push (files + database snapshot)');
  const boot = await sync.restoreOnBoot();
  if (boot.action !== 'none') throw new Error(`fresh bucket, yet restoreOnBoot says ${boot.action}`);
  const p0 = performance.now();
  const first = await sync.push({ reason: 'push', full: true, databases: true });
  const initialS = (performance.now() - p0) / 1000;
  if (!first.committed || first.uploadedFiles !== plan.files.length || first.databases !== 1) {
    failures.push(`initial push: ${JSON.stringify(first)} (expected ${plan.files.length} files and 1 database)`);
  }
  progress(`   ${round(initialS, 2)} s, ${round((plan.bytes + dbBytes) / MiB / initialS, 1)} MiB/s`);

  // Baselines: rsync and rclone to local directories, synced once (also timed: informational).
  const rsyncDest = join(dir, 'rsync-dest');
  const rcloneDest = join(dir, 'rclone-dest');
  const tools = {
    rsync: { installed: installed('rsync'), samplesMs: [] as number[], medianMs: NaN, initialMs: NaN },
    rclone: { installed: installed('rclone'), samplesMs: [] as number[], medianMs: NaN, initialMs: NaN },
  };
  const rsyncRun = (): Promise<number> => runTool('rsync', ['-a', `${a.workspace}/`, `${rsyncDest}/`]);
  const rcloneRun = (): Promise<number> => runTool('rclone', ['--config', '', 'sync', a.workspace, rcloneDest]);
  if (tools.rsync.installed) {
    mkdirSync(rsyncDest);
    tools.rsync.initialMs = await rsyncRun();
  } else progress('rsync: not installed (apt-get install rsync)');
  if (tools.rclone.installed) {
    mkdirSync(rcloneDest);
    tools.rclone.initialMs = await rcloneRun();
  } else progress('rclone: not installed (apt-get install rclone)');

  // 3. Re-sync after one changed file, no watcher: brain push (full rescan), rsync, rclone; order rotates.
  progress(`3. re-sync after one changed file, ${o.resyncIterations} iterations`);
  const resyncMs: number[] = [];
  const resyncPushMs: number[] = [];
  const picked = new Set<string>();
  const pickFresh = (from: string[]): string => {
    for (;;) {
      const rel = rng.pick(from);
      if (!picked.has(rel) || picked.size >= from.length) {
        picked.add(rel);
        return rel;
      }
    }
  };
  for (let i = 0; i < o.resyncIterations; i++) {
    edit(pickFresh(smallNames));
    const steps: Array<() => Promise<void>> = [
      async () => {
        const t = performance.now();
        const r = await sync.push({ reason: 'push', full: true });
        resyncMs.push(performance.now() - t);
        resyncPushMs.push(r.ms);
        if (!r.committed || r.uploadedFiles !== 1) failures.push(`re-sync ${i}: expected one uploaded file, got ${JSON.stringify(r)}`);
      },
      async () => {
        if (tools.rsync.installed) tools.rsync.samplesMs.push(await rsyncRun());
      },
      async () => {
        if (tools.rclone.installed) tools.rclone.samplesMs.push(await rcloneRun());
      },
    ];
    for (let k = 0; k < steps.length; k++) await (steps[(i + k) % steps.length] as () => Promise<void>)();
  }
  tools.rsync.medianMs = median(tools.rsync.samplesMs);
  tools.rclone.medianMs = median(tools.rclone.samplesMs);
  progress(`   brain ${ms(median(resyncMs))} ms, rsync ${ms(tools.rsync.medianMs)} ms, rclone ${ms(tools.rclone.medianMs)} ms (medians)`);

  // 2. Change-to-durable latency with the watcher running.
  progress(`2. change-to-durable latency with the watcher, ${o.latencyIterations} changes`);
  const readyStart = performance.now();
  await sync.start();
  const probeDirs = [...new Set([plan.dirs.at(-1) as string, plan.dirs[2] as string, 'memory'])];
  const probeDone = new Set<string>();
  let watcherReadyS = NaN;
  while (performance.now() - readyStart < 180_000) {
    const pending = probeDirs.filter((d) => !probeDone.has(d));
    const expect = pending.map((d) => {
      const rel = `${d}/bench-probe.md`;
      appendFileSync(join(a.workspace, rel), 'probe\n');
      return { d, rel, size: statSync(join(a.workspace, rel)).size };
    });
    // A little over the debounce: a watcher that is live picks the probe up within this window.
    await watch.until(() => expect.every((e) => sync.current?.files[e.rel]?.size === e.size), DEFAULT_SYNC_SETTINGS.debounceMs + 300);
    for (const e of expect) if (sync.current?.files[e.rel]?.size === e.size) probeDone.add(e.d);
    if (probeDone.size === probeDirs.length) {
      watcherReadyS = (performance.now() - readyStart) / 1000;
      break;
    }
  }
  if (!Number.isFinite(watcherReadyS)) failures.push('the watcher never picked up probe writes within 180 s');
  progress(`   watcher picks up changes ${round(watcherReadyS, 2)} s after start()`);
  const idle = (): Promise<number | null> => watch.until(() => sync.status().state === 'idle' && sync.status().pendingChanges === 0, 30_000);
  await sleep(1000);
  await idle();
  const latencies: number[] = [];
  let timeouts = 0;
  let newFiles = 0;
  const pushesBefore = pushLog.length;
  for (let i = 0; i < o.latencyIterations; i++) {
    let rel: string;
    const t0 = performance.now();
    if (i % 5 === 4) {
      rel = `memory/bench-${i}.md`;
      writeFileSync(join(a.workspace, rel), `# ${rel}\n\nlearned ${rng.u32().toString(36)} at ${new Date().toISOString()}\n`);
      newFiles++;
    } else {
      rel = rng.pick(names);
      edit(rel);
    }
    const st = statSync(join(a.workspace, rel));
    const size = st.size;
    const mtimeMs = Math.floor(st.mtimeMs);
    const at = await watch.until(() => {
      const e = sync.current?.files[rel];
      return e !== undefined && e.size === size && e.mtimeMs === mtimeMs;
    }, 30_000);
    if (at === null) {
      timeouts++;
      failures.push(`change ${i} (${rel}) was not durable within 30 s: ${JSON.stringify(sync.status())}`);
    } else latencies.push(at - t0);
    await sleep(200 + rng.int(0, 300));
    await idle();
  }
  const windowPushes = pushLog.slice(pushesBefore);
  const lat = [...latencies].sort((x, y) => x - y);
  const p95 = timeouts > 0 ? Infinity : percentile(lat, 95);
  progress(`   p50 ${ms(percentile(lat, 50))} ms, p95 ${ms(p95)} ms, max ${ms(lat.at(-1) ?? NaN)} ms`);

  // 5. Shutdown final sync with 100 dirty files (watcher stopped, gateway stopped: its database is closed).
  progress(`5. shutdown final sync with ${FINAL_DIRTY_FILES} dirty files`);
  await sync.stop();
  clearInterval(live.writer);
  live.writer = undefined;
  db.close();
  live.db = undefined;
  picked.clear();
  const dirty = Array.from({ length: Math.min(FINAL_DIRTY_FILES, names.length) }, () => pickFresh(names));
  for (const rel of dirty) edit(rel);
  const f0 = performance.now();
  const final = await sync.finalSync(FINAL_DEADLINE_MS);
  const finalMs = performance.now() - f0;
  let finalOutcome = 'committed';
  let finalUploaded = 0;
  let finalDbs = 0;
  if ('timedOut' in final) finalOutcome = `timed out after ${FINAL_DEADLINE_MS} ms`;
  else if ('failed' in final) finalOutcome = `failed: ${final.failed}`;
  else {
    const r: PushResult = final;
    finalUploaded = r.uploadedFiles;
    finalDbs = r.databases;
    if (!r.committed) finalOutcome = `not committed (${r.skipped ?? '?'})`;
    else if (r.uploadedFiles < dirty.length) finalOutcome = `committed, but only ${r.uploadedFiles}/${dirty.length} files uploaded`;
  }
  if (finalOutcome !== 'committed') failures.push(`final sync: ${finalOutcome}`);
  progress(`   ${ms(finalMs)} ms (${finalOutcome})`);

  // 4. Cold restore on fresh machine dirs vs cp -r of the same data, alternating.
  progress(`4. cold restore vs cp -r, ${o.restoreRuns} runs each, alternating`);
  const createBeforeRestore = fsCreateProbe(join(dir, 'fs-probe-restore'));
  progress(`   file system: ${round(createBeforeRestore)} ms per 1000 empty-file creates`);
  slowFs(createBeforeRestore, 'before the restore runs');
  const restoreMs: number[] = [];
  const cpMs: number[] = [];
  let restoredFiles = 0;
  let restoredDbs = 0;
  let lastWriter: BrainSync | undefined;
  for (let i = 0; i < o.restoreRuns; i++) {
    flush();
    const m = machine(join(dir, `restore-${i}`));
    const s = newSync(m, 10 + i);
    lastWriter = s;
    const t = performance.now();
    const r = await s.restoreOnBoot();
    restoreMs.push(performance.now() - t);
    restoredFiles = r.files;
    restoredDbs = r.databases;
    if (r.action !== 'restored' || r.files !== sync.current?.stats.files || r.databases !== 1) failures.push(`restore ${i}: ${JSON.stringify(r)}`);
    else if (statSync(join(m.dbDir, DB_REL)).size <= 0) failures.push(`restore ${i}: no database`);
    // Outputs stay until the end: deleting 10k files here would slow the next run's file creation (see fsCreateProbe).
    flush();
    const cpDest = join(dir, `cp-${i}`);
    mkdirSync(cpDest);
    cpMs.push(await runTool('cp', ['-r', a.workspace, a.dbDir, `${cpDest}/`]));
    progress(`   run ${i + 1}: restore ${ms(restoreMs.at(-1) ?? NaN)} ms, cp -r ${ms(cpMs.at(-1) ?? NaN)} ms`);
  }
  const medRestore = median(restoreMs);
  const medCp = median(cpMs);
  const ratio = medRestore / medCp;

  // 6. Data key rotation (rotate-secrets): every snapshot re-encrypted by the newest lease holder.
  progress('6. data key rotation: re-encrypt every snapshot under a new key');
  const ring = new BrainKey(Buffer.concat([BrainKey.generate(), rawKey]));
  const k0 = performance.now();
  const rekey = lastWriter ? await lastWriter.rekey(ring) : undefined;
  const rekeyMs = performance.now() - k0;
  if (!rekey || rekey.rewritten !== rekey.snapshots) failures.push(`data key rotation: ${JSON.stringify(rekey)}`);
  progress(`   ${ms(rekeyMs)} ms: ${rekey?.snapshots ?? 0} snapshots, ${rekey?.chunks ?? 0} chunks`);

  // Bucket size vs what it holds.
  const prefix = `planes/${PLANE}/agents/${AGENT}/`;
  const bucket = diskUsage(bucketDir, (r) => !r.startsWith('.tmp/') && !r.startsWith('.locks/'));
  const chunks = diskUsage(join(bucketDir, ...prefix.split('/').filter(Boolean), 'chunks'));
  const manifests = diskUsage(join(bucketDir, ...prefix.split('/').filter(Boolean), 'manifests'));
  const workspaceNow = diskUsage(a.workspace);
  const sourceBytes = workspaceNow.bytes + statSync(dbPath).size;

  const cpu = cpus();
  return {
    node: process.version,
    machine: { cores: cpu.length, cpuModel: cpu[0]?.model.trim() ?? '?', memGb: round(totalmem() / 1024 ** 3, 1), loadavgAtStart: loadAtStart, fsCreateMsPer1000AtStart: round(createAtStart), fsCreateMsPer1000BeforeRestore: round(createBeforeRestore) },
    setup: { files: plan.files.length, dirs: plan.dirs.length, largeFiles: plan.files.filter((f) => f.large).length, workspaceMb: mb(plan.bytes), dbMb: mb(dbBytes), setupS: round(setupS, 1), seed: o.seed },
    initialPush: {
      s: round(initialS, 2),
      mbPerS: round((plan.bytes + dbBytes) / MiB / initialS, 1),
      uploadedFiles: first.uploadedFiles,
      databases: first.databases,
      rsyncS: tools.rsync.installed ? round(tools.rsync.initialMs / 1000, 2) : null,
      rcloneS: tools.rclone.installed ? round(tools.rclone.initialMs / 1000, 2) : null,
    },
    latency: {
      iterations: o.latencyIterations,
      newFiles,
      watcherReadyS: round(watcherReadyS, 2),
      samplesMs: latencies.map(ms),
      p50Ms: ms(percentile(lat, 50)),
      p95Ms: ms(p95),
      maxMs: ms(timeouts > 0 ? Infinity : (lat.at(-1) ?? NaN)),
      timeouts,
      pushes: windowPushes.length,
      medianPushMs: ms(median(windowPushes.map((r) => Number(r['ms'])))),
      snapshotPushes: windowPushes.filter((r) => r['reason'] === 'snapshot' || Number(r['databases']) > 0).length,
      debounceMs: DEFAULT_SYNC_SETTINGS.debounceMs,
      maxWaitMs: DEFAULT_SYNC_SETTINGS.maxWaitMs,
      targetS: TARGET.latencyP95S,
      met: timeouts === 0 && lat.length > 0 && p95 <= TARGET.latencyP95S * 1000,
    },
    resync: {
      iterations: o.resyncIterations,
      samplesMs: resyncMs.map(ms),
      medianMs: ms(median(resyncMs)),
      medianPushMs: ms(median(resyncPushMs)),
      rsync: { ...tools.rsync, samplesMs: tools.rsync.samplesMs.map(ms), medianMs: ms(tools.rsync.medianMs), initialMs: ms(tools.rsync.initialMs) },
      rclone: { ...tools.rclone, samplesMs: tools.rclone.samplesMs.map(ms), medianMs: ms(tools.rclone.medianMs), initialMs: ms(tools.rclone.initialMs) },
      targetS: TARGET.resyncS,
      met: resyncMs.length > 0 && median(resyncMs) <= TARGET.resyncS * 1000,
    },
    restore: {
      runs: o.restoreRuns,
      restoreMs: restoreMs.map(ms),
      cpMs: cpMs.map(ms),
      medianRestoreMs: ms(medRestore),
      medianCpMs: ms(medCp),
      ratio: round(ratio, 2),
      files: restoredFiles,
      databases: restoredDbs,
      targetRatio: TARGET.restoreRatio,
      met: ratio <= TARGET.restoreRatio,
    },
    finalSync: {
      dirtyFiles: dirty.length,
      ms: ms(finalMs),
      uploadedFiles: finalUploaded,
      databases: finalDbs,
      outcome: finalOutcome,
      targetS: TARGET.finalSyncS,
      met: finalOutcome === 'committed' && finalMs <= TARGET.finalSyncS * 1000,
    },
    dataKeyRotation: {
      ms: ms(rekeyMs),
      snapshots: rekey?.snapshots ?? 0,
      chunks: rekey?.chunks ?? 0,
      deleted: rekey?.deleted ?? 0,
      vsInitialPush: round(rekeyMs / 1000 / initialS, 2),
    },
    bucket: {
      objects: bucket.files,
      bytes: bucket.bytes,
      allocatedBytes: bucket.allocatedBytes,
      chunks: chunks.files,
      chunkBytes: chunks.bytes,
      manifests: manifests.files,
      manifestBytes: manifests.bytes,
      sourceBytes,
      ratio: round(bucket.bytes / sourceBytes, 3),
    },
    dbWritesDuringRun: dbWrites,
    peakRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
    ok: failures.length === 0,
    failures,
    warnings: [...new Set(warnings)],
  };
}

/** A figure for the text block: "n/a" where nothing was measured. */
function fig(n: number | null | undefined, unit = ''): string {
  return typeof n === 'number' && Number.isFinite(n) ? `${n}${unit}` : 'n/a';
}

function figureLines(r: Report): string[] {
  const verdict = (met: boolean): string => (met ? 'MET' : 'MISSED');
  const l = r.latency;
  const rs = r.resync;
  const rt = r.restore;
  const fs = r.finalSync;
  const b = r.bucket;
  const tool = (name: string, t: ToolColumn): string =>
    t.installed ? `${name} median ${fig(t.medianMs)} ms (${t.samplesMs.join('/')})` : `${name}: not installed (apt-get install ${name})`;
  const targets = [
    { name: 'change-to-durable p95', met: l.met },
    { name: 're-sync after one change', met: rs.met },
    { name: 'cold restore ratio', met: rt.met },
    { name: 'shutdown final sync', met: fs.met },
  ];
  const missed = targets.filter((t) => !t.met).map((t) => t.name);
  return [
    `sync bench: ${r.setup.files} files, ${r.setup.workspaceMb} MiB workspace (${r.setup.largeFiles} large files, ${r.setup.dirs} dirs) + ${r.setup.dbMb} MiB live SQLite (WAL), LocalBucket, node ${r.node}`,
    `  machine: ${r.machine.cores} cores (${r.machine.cpuModel}), ${r.machine.memGb} GiB RAM, load ${r.machine.loadavgAtStart.join(' ')} at start; setup ${r.setup.setupS} s (seed ${r.setup.seed})` +
      `; ${r.machine.fsCreateMsPer1000AtStart} ms per 1000 empty-file creates at start, ${r.machine.fsCreateMsPer1000BeforeRestore} before the restores`,
    `  1. initial full push      ${r.initialPush.s} s, ${r.initialPush.mbPerS} MiB/s (${r.initialPush.uploadedFiles} files + ${r.initialPush.databases} database snapshot)  [informational]` +
      `; workspace only: rsync -a ${r.initialPush.rsyncS === null ? 'n/a' : `${r.initialPush.rsyncS} s`}, rclone sync ${r.initialPush.rcloneS === null ? 'n/a' : `${r.initialPush.rcloneS} s`}`,
    `  2. change-to-durable      p50 ${fig(l.p50Ms)} ms, p95 ${fig(l.p95Ms)} ms, max ${fig(l.maxMs)} ms over ${l.iterations} changes (${l.newFiles} new memory files)` +
      `  [target p95 <= ${l.targetS} s: ${verdict(l.met)}]`,
    `       watcher (debounce ${l.debounceMs} ms, max wait ${l.maxWaitMs} ms) live ${fig(l.watcherReadyS)} s after start(); ${l.pushes} pushes in the window, median push ${fig(l.medianPushMs)} ms` +
      `, ${l.snapshotPushes} with a db snapshot${l.timeouts ? `, ${l.timeouts} TIMED OUT` : ''}`,
    `       samples (ms): ${l.samplesMs.join(' ')}`,
    `  3. re-sync, 1 file changed  brain push (full rescan) median ${fig(rs.medianMs)} ms (${rs.samplesMs.join('/')}; push's own ms median ${fig(rs.medianPushMs)})` +
      `  [target <= ${rs.targetS} s: ${verdict(rs.met)}]`,
    `       same changes: ${tool('rsync', rs.rsync)} | ${tool('rclone', rs.rclone)}` +
      (rs.rsync.installed && rs.rsync.medianMs > 0 ? ` | brain/rsync ${round(rs.medianMs / rs.rsync.medianMs, 1)}x` : '') +
      (rs.rclone.installed && rs.rclone.medianMs > 0 ? `, brain/rclone ${round(rs.medianMs / rs.rclone.medianMs, 1)}x` : ''),
    `  4. cold restore           restoreOnBoot median ${fig(rt.medianRestoreMs)} ms (${rt.restoreMs.join('/')}) vs cp -r median ${fig(rt.medianCpMs)} ms (${rt.cpMs.join('/')})` +
      ` = ${fig(rt.ratio)}x, ${rt.files} files + ${rt.databases} db  [target <= ${rt.targetRatio}x: ${verdict(rt.met)}]`,
    `  5. shutdown final sync    ${fig(fs.ms)} ms for ${fs.dirtyFiles} dirty files (${fs.uploadedFiles} uploaded, ${fs.databases} db snapshot; ${fs.outcome})  [target <= ${fs.targetS} s: ${verdict(fs.met)}]`,
    `  6. data key rotation      ${fig(r.dataKeyRotation.ms)} ms to re-encrypt ${r.dataKeyRotation.snapshots} snapshots (${r.dataKeyRotation.chunks} chunks re-sealed, ${r.dataKeyRotation.deleted} old ones deleted)` +
      ` = ${fig(r.dataKeyRotation.vsInitialPush)}x the initial full push  [informational]`,
    `  bucket on disk: ${mb(b.bytes)} MiB in ${b.objects} objects (allocated ${mb(b.allocatedBytes)} MiB) for ${mb(b.sourceBytes)} MiB of workspace + database = ${b.ratio}x;` +
      ` chunks ${mb(b.chunkBytes)} MiB in ${b.chunks}, manifests ${mb(b.manifestBytes)} MiB in ${b.manifests}`,
    `  peak RSS of the bench process ${r.peakRssMb} MB; ${r.dbWritesDuringRun} writes to the live database during the run`,
    `summary: ${targets.length - missed.length} of ${targets.length} targets met${missed.length ? `; MISSED: ${missed.join(', ')}` : ''}`,
  ];
}

benchMain({ parseOptions, run, figureLines, cleanup, progress });
