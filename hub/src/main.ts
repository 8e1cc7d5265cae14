/**
 * `hub serve --data-dir DIR ...` and `hub token create ...`. The only module of
 * the hub program that handles signals or exits the process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostPortFlag, intFlag, parseFlags } from '../../common/src/cli-args.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { writeFileAtomic } from '../../common/src/files.ts';
import { VERSION } from '../../common/src/version.ts';
import { openDatabase } from './db/database.ts';
import { Hub } from './hub.ts';
import type { HubOptions } from './hub-options.ts';
import { ApiTokens } from './store/api-tokens.ts';

const USAGE = `usage:
  hub serve --data-dir DIR [--grpc-listen HOST:PORT] [--api-listen HOST:PORT] [--advertise HOST:PORT]
            [--api-tls-cert FILE --api-tls-key FILE]
            [--tls-name NAME]... [--heartbeat-interval-ms N] [--bucket file:///DIR|gs://BUCKET[/PREFIX]] [--create-bucket]
            [--secrets local|gcp-secret-manager:PROJECT]
            [--instance-identity [--identity-audience AUD]] [--gcp [--gcp-inserts-per-second N]]
            [--heal-red-after-ms N] [--no-self-healing] [--prices FILE.json]
            [--budget-enforcement pause|alert-only] [--budget-webhook URL]
  hub token create --data-dir DIR --name NAME --role admin|viewer --out FILE
  hub --version`;

async function serve(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    'data-dir': { type: 'string' },
    'grpc-listen': { type: 'string' },
    'api-listen': { type: 'string' },
    'api-tls-cert': { type: 'string' },
    'api-tls-key': { type: 'string' },
    advertise: { type: 'string' },
    'tls-name': { type: 'string', multiple: true },
    'heartbeat-interval-ms': { type: 'string' },
    bucket: { type: 'string' },
    'create-bucket': { type: 'boolean', default: false },
    secrets: { type: 'string' },
    'instance-identity': { type: 'boolean', default: false },
    'identity-audience': { type: 'string' },
    gcp: { type: 'boolean', default: false },
    'gcp-inserts-per-second': { type: 'string' },
    'heal-red-after-ms': { type: 'string' },
    'no-self-healing': { type: 'boolean', default: false },
    prices: { type: 'string' },
    'budget-enforcement': { type: 'string' },
    'budget-webhook': { type: 'string' },
  });
  if (!values['data-dir']) throw new PlaneError(ErrorCode.InvalidArgument, '--data-dir is required', { where: '--data-dir' });
  const grpcListen = hostPortFlag(values['grpc-listen'], 'grpc-listen');
  const apiListen = hostPortFlag(values['api-listen'], 'api-listen');
  const hb = intFlag(values['heartbeat-interval-ms'], 'heartbeat-interval-ms');
  const healMs = intFlag(values['heal-red-after-ms'], 'heal-red-after-ms');
  const insertsPerSecond = intFlag(values['gcp-inserts-per-second'], 'gcp-inserts-per-second');
  const enforcement = values['budget-enforcement'];
  if (enforcement !== undefined && enforcement !== 'pause' && enforcement !== 'alert-only') {
    throw new PlaneError(ErrorCode.InvalidArgument, `--budget-enforcement must be pause or alert-only, got '${enforcement}'`, { where: '--budget-enforcement' });
  }
  let prices: unknown;
  if (values.prices) {
    try {
      prices = JSON.parse(readFileSync(values.prices, 'utf8'));
    } catch (err) {
      throw new PlaneError(ErrorCode.InvalidArgument, `--prices ${values.prices}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { where: '--prices' });
    }
  }
  // The webhook URL may carry a token: take it from the environment rather than the process list when you can.
  const webhook = values['budget-webhook'] ?? process.env['PLANES_BUDGET_WEBHOOK'];
  // The signing secret only from the environment: never a process argument.
  const webhookSecret = process.env['PLANES_BUDGET_WEBHOOK_SECRET'];
  const hub = new Hub({
    dataDir: values['data-dir'],
    ...(grpcListen ? { grpcHost: grpcListen.host, grpcPort: grpcListen.port } : {}),
    ...(apiListen ? { apiHost: apiListen.host, apiPort: apiListen.port } : {}),
    ...(values['api-tls-cert'] ? { apiTlsCertFile: values['api-tls-cert'] } : {}),
    ...(values['api-tls-key'] ? { apiTlsKeyFile: values['api-tls-key'] } : {}),
    ...(values.advertise ? { advertiseAddress: values.advertise } : {}),
    ...(values['tls-name'] ? { tlsNames: values['tls-name'] } : {}),
    ...(hb !== undefined ? { heartbeatIntervalMs: hb } : {}),
    ...(values.bucket ? { bucketUrl: values.bucket } : {}),
    ...(values['create-bucket'] ? { createBucket: true } : {}),
    ...(values.secrets ? { secretsProvider: values.secrets } : {}),
    // Compute Engine instances of planes with a project enrol with Google-signed identity tokens (docs/image.md).
    ...(values['instance-identity'] ? { instanceIdentityEnrollment: true } : {}),
    ...(values['identity-audience'] ? { instanceIdentityAudience: values['identity-audience'] } : {}),
    // The gcp infra provider, with the hub's own Google identity (Application Default Credentials).
    ...(values.gcp ? { gcp: { ...(insertsPerSecond !== undefined ? { insertsPerSecond } : {}) } } : {}),
    ...(healMs !== undefined ? { healRedAfterMs: healMs } : {}),
    ...(values['no-self-healing'] ? { selfHealing: false } : {}),
    ...(prices !== undefined ? { prices: prices as HubOptions['prices'] } : {}),
    ...(enforcement ? { budgetEnforcement: enforcement } : {}),
    ...(webhook ? { budgetWebhook: { url: webhook, timeoutMs: 5000, retries: 2, ...(webhookSecret ? { signingSecret: webhookSecret } : {}) } } : {}),
  });
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        hub.log.warn('second signal: stopping now', { signal });
        void hub.destroy().then(resolve);
        return;
      }
      stopping = true;
      hub.log.info('stopping', { signal });
      void hub.close().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await hub.start();
  await stopped;
  return 0;
}

function tokenCreate(args: string[]): number {
  const { values } = parseFlags(args, {
    'data-dir': { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    out: { type: 'string' },
  });
  for (const f of ['data-dir', 'name', 'role', 'out'] as const) {
    if (!values[f]) throw new PlaneError(ErrorCode.InvalidArgument, `--${f} is required`, { where: `--${f}` });
  }
  const role = values.role as string;
  if (role !== 'admin' && role !== 'viewer') throw new PlaneError(ErrorCode.InvalidArgument, `--role must be admin or viewer, got '${role}'`, { where: '--role' });
  const db = openDatabase(join(values['data-dir'] as string, 'hub.db'));
  try {
    const { id, token } = new ApiTokens(db).create(values.name as string, role);
    // The token goes to a 0600 file, never to stdout, so it stays out of terminal scrollback and logs.
    writeFileAtomic(values.out as string, `${token}\n`, 0o600);
    console.log(JSON.stringify({ id, name: values.name, role, file: values.out }));
  } finally {
    db.close();
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === '--version') return (console.log(VERSION), 0);
  // Asked for: the usage on stdout, exit 0 (also after a command: hub serve --help).
  if (cmd === 'help' || argv.includes('--help') || argv.includes('-h')) return (console.log(USAGE), 0);
  if (cmd === 'serve') return serve(argv.slice(1));
  if (cmd === 'token' && sub === 'create') return tokenCreate(rest);
  throw new PlaneError(ErrorCode.InvalidArgument, `${cmd === undefined ? 'a command is required' : `unknown command '${argv.join(' ')}'`}\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = PlaneError.from(err);
    console.error(`hub: ${e.message}`);
    process.exit(e.exitCode);
  },
);
