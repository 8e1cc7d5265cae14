/**
 * The shared outer shell of the benchmarks: options, a global timeout, signals,
 * figures as text (or JSON on stdout with the figure lines on stderr), cleanup
 * whatever happens, and the exit code (0 ran and met, 1 failed or missed, 2 bad
 * options, 3 timed out, 130 interrupted).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * A benchmark's flags: strict util.parseArgs with --help (prints the usage,
 * exits 0), and `num(flag, min, whole)` that reads a numeric flag or throws
 * a message naming it, with the usage.
 */
export function benchArgs<T extends FlagOptions>(argv: string[], usage: string, options: T) {
  const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', default: false } }, strict: true });
  if ((values as Record<string, unknown>)['help']) {
    console.log(usage);
    process.exit(0);
  }
  const num = (name: keyof T & string, min: number, whole = true): number => {
    const v = (values as Record<string, unknown>)[name];
    const n = Number(v);
    if (typeof v !== 'string' || !Number.isFinite(n) || (whole && !Number.isInteger(n)) || n < min) {
      throw new Error(`--${name} must be a ${whole ? 'whole ' : ''}number >= ${min}, got '${String(v)}'\n${usage}`);
    }
    return n;
  };
  return { values, num };
}

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
