/**
 * The shared outer shell of the benchmarks: options, a global timeout, signals,
 * figures as text (or JSON on stdout with the figure lines on stderr), cleanup
 * whatever happens, and the exit code (0 ran and met, 1 failed or missed, 2 bad
 * options, 3 timed out, 130 interrupted).
 */
export interface BenchSpec<O extends { timeoutS: number; json: boolean }, R extends { ok: boolean }> {
  parseOptions: (argv: string[]) => O;
  run: (o: O) => Promise<R>;
  figureLines: (r: R) => string[];
  cleanup: () => Promise<void>;
  progress: (line: string) => void;
  /** Extra lines to print when the run throws (e.g. the hub's last log lines). */
  onFailure?: () => string | undefined;
}

export function benchMain<O extends { timeoutS: number; json: boolean }, R extends { ok: boolean }>(spec: BenchSpec<O, R>): void {
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
        for (const line of spec.figureLines(report)) spec.progress(line);
      } else {
        console.log(spec.figureLines(report).join('\n'));
      }
      return report.ok ? 0 : 1;
    } catch (err) {
      spec.progress(`failed: ${(err as Error).stack ?? (err as Error).message}`);
      const extra = spec.onFailure?.();
      if (extra) spec.progress(extra);
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
