import { parseArgs } from 'node:util';
/**
 * The shared outer shell of the benchmarks: options, a global timeout, signals,
 * figures as text (or JSON on stdout with the figure lines on stderr), cleanup
 * whatever happens, and the exit code (0 ran and met, 1 failed or missed, 2 bad
 * options, 3 timed out, 130 interrupted).
 */
interface BenchReport {
  ok: boolean;
  failures: string[];
  warnings: string[];
}

export interface BenchSpec<O extends { timeoutS: number; json: boolean }, R extends BenchReport> {
  parseOptions: (argv: string[]) => O;
  run: (o: O) => Promise<R>;
  /** The figures; failures and warnings are appended here. */
  figureLines: (r: R) => string[];
  cleanup: () => Promise<void>;
  progress: (line: string) => void;
  /** The hub's last log lines, printed when the run throws. */
  hubLogTail?: () => string;
}

export function benchMain<O extends { timeoutS: number; json: boolean }, R extends BenchReport>(spec: BenchSpec<O, R>): void {
  const lines = (r: R): string[] => [...spec.figureLines(r), ...r.failures.map((f) => `  FAILED: ${f}`), ...r.warnings.map((w) => `  warning: ${w}`)];
  const main = async (): Promise<number> => {
    let o: O;
    try {
      o = spec.parseOptions(process.argv.slice(2));
    } catch (err) {
      console.error((err as Error).message);
      return 2;
    }
    const timeout = setTimeout(() => {
      spec.progress(`global timeout of ${o.timeoutS} s reached; stopping`);
      void spec.cleanup().then(() => process.exit(3));
    }, o.timeoutS * 1000);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void spec.cleanup().then(() => process.exit(130)));
    try {
      const report = await spec.run(o);
      if (o.json) {
        console.log(JSON.stringify(report));
        for (const line of lines(report)) spec.progress(line);
      } else {
        console.log(lines(report).join('\n'));
      }
      return report.ok ? 0 : 1;
    } catch (err) {
      spec.progress(`failed: ${(err as Error).stack ?? (err as Error).message}`);
      const tail = spec.hubLogTail?.();
      if (tail) spec.progress(`last hub log lines:\n${tail}`);
      return 1;
    } finally {
      clearTimeout(timeout);
      await spec.cleanup();
    }
  };
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      void spec.cleanup().then(() => process.exit(1));
    },
  );
}

/** A benchmark's flags: `--help` prints the usage and exits; `int` reads a whole-number flag or says which and why not. */
export function benchFlags<T extends Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>>(argv: string[], options: T, usage: string) {
  const values = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', default: false } }, strict: true }).values as Record<string, string | boolean | undefined>;
  if (values['help'] === true) {
    console.log(usage);
    process.exit(0);
  }
  const int = (name: string, min: number): number => {
    const v = values[name];
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got '${String(v)}'\n${usage}`);
    return n;
  };
  return { values, int };
}
