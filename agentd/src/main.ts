/**
 * `agentd run --config FILE`. The only module of agentd that handles signals or
 * exits the process. Exit codes: 0 clean stop; 1 stop deadline exceeded or a
 * runtime failure; 2 usage; 78 configuration error (systemd must not restart
 * into the same error: RestartPreventExitStatus=78).
 */
import { parseFlags } from '../../common/src/cli-args.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { Logger } from '../../common/src/logger.ts';
import { VERSION } from '../../common/src/version.ts';
import { Agentd } from './agentd.ts';
import { loadAgentdConfig } from './config.ts';

const EX_CONFIG = 78;
const USAGE = 'usage: agentd run --config FILE | agentd --version';

async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' } });
  if (!values.config) throw new PlaneError(ErrorCode.InvalidArgument, `--config is required\n${USAGE}`, { where: '--config' });
  const log = new Logger('agentd');
  let cfg;
  try {
    cfg = loadAgentdConfig(values.config);
  } catch (err) {
    console.error(`agentd: ${PlaneError.from(err).message}`);
    return EX_CONFIG;
  }
  const agentd = new Agentd(cfg, log);
  let exitCode = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (agentd.state === 'stopping') return;
      log.info('signal received; stopping', { signal, deadlineMs: cfg.shutdownTimeoutMs });
      const hard = setTimeout(() => {
        log.error('stop deadline exceeded; exiting now', { deadlineMs: cfg.shutdownTimeoutMs });
        process.exit(1);
      }, cfg.shutdownTimeoutMs);
      hard.unref();
      agentd.stop().then(resolve, (err: unknown) => {
        log.error('stop failed', { error: err });
        exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  try {
    await agentd.start();
  } catch (err) {
    const e = PlaneError.from(err);
    if (e.code === ErrorCode.Aborted) {
      await stopped;
      return exitCode;
    }
    log.error('agentd could not start', { reason: e.message, code: e.code });
    await agentd.stop().catch(() => undefined);
    return e.code === ErrorCode.InvalidArgument || e.code === ErrorCode.FailedPrecondition || e.code === ErrorCode.Unauthenticated ? EX_CONFIG : 1;
  }
  await stopped;
  return exitCode;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version') return (console.log(VERSION), 0);
  if (argv[0] === 'run') return run(argv.slice(1));
  throw new PlaneError(ErrorCode.InvalidArgument, USAGE);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = PlaneError.from(err);
    console.error(`agentd: ${e.message}`);
    process.exit(e.exitCode);
  },
);
