import { connect } from 'node:net';
import type { Static } from '@sinclair/typebox';
import { openBucket } from '../../../common/src/brain/open-bucket.ts';
import { PlaneError } from '../../../common/src/errors.ts';
import type { SecretsProvider } from '../../../common/src/secrets/secrets-provider.ts';
import type { HubContext } from '../hub-context.ts';
import type { JobClock } from '../job-clock.ts';
import type { RunRecord } from '../run-model.ts';
import type { HubHealthBody } from './console-schemas.ts';

type Check = Static<typeof HubHealthBody>['checks'][number];

/** What the health page needs from the hub beyond its context. */
export interface HubRuntimeInfo {
  startedAt: number;
  jobs: JobClock;
  secretsProvider: SecretsProvider;
  secretRotationCron: string;
}

const CHECK_TIMEOUT_MS = 3000;

async function timed(name: string, fn: () => Promise<string>): Promise<Check> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { name, ok: true, detail, ms: Math.round((performance.now() - t0) * 10) / 10 };
  } catch (err) {
    return { name, ok: false, detail: PlaneError.from(err).message, ms: Math.round((performance.now() - t0) * 10) / 10 };
  } finally {
    clearTimeout(timer);
  }
}

function tcpReachable(address: string): Promise<string> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => {
      s.end();
      resolve(`listening on ${address}`);
    });
    s.on('error', (err) => reject(new Error(`${address}: ${err.message}`)));
  });
}

/**
 * Coder-style health report: each dependency is exercised for real (a query,
 * a TCP connect, a provider call, a bucket listing), each with a time limit, so
 * the page shows what is down and how slow the rest is.
 */
export async function hubHealth(ctx: HubContext, info: HubRuntimeInfo, extra: { streams: number; sessions: number; runs: (plane: string) => RunRecord[] }): Promise<Static<typeof HubHealthBody>> {
  const now = Date.now();
  const planes = ctx.planes.list();
  const checks: Check[] = [];
  checks.push(
    await timed('database', async () => {
      const pages = ctx.db.pragma('page_count', { simple: true }) as number;
      const size = ctx.db.pragma('page_size', { simple: true }) as number;
      const mode = ctx.db.pragma('journal_mode', { simple: true }) as string;
      const agents = (ctx.db.prepare('SELECT COUNT(*) AS n FROM agents').get() as { n: number }).n;
      return `SQLite ${mode}, ${((pages * size) / 1048576).toFixed(1)} MiB, ${agents} agents`;
    }),
  );
  checks.push(await timed('grpc listener', () => tcpReachable(ctx.grpcAddress())));
  for (const provider of ctx.infra.all()) {
    const plane = planes.find((p) => p.spec.infraProvider === provider.name);
    checks.push(
      await timed(`infra provider ${provider.name}`, async () => {
        const instances = await provider.listInstances(plane?.name ?? 'health-check');
        return plane ? `${instances.length} instance(s) in plane ${plane.name}` : 'answers (no plane uses it)';
      }),
    );
  }
  checks.push(
    await timed(`secrets provider ${info.secretsProvider.name}`, async () => {
      // A read of a name that cannot exist: it reaches the store without reading any secret.
      await info.secretsProvider.info({ plane: 'health-check', agent: 'health-check' }, 'health-check');
      return 'answers';
    }),
  );
  checks.push(
    await timed('bucket', async () => {
      const bucket = await openBucket(ctx.brain.bucketUrl, ctx.brain.gcsApiEndpoint ? { gcsApiEndpoint: ctx.brain.gcsApiEndpoint } : {});
      await bucket.listPage('', { maxResults: 1 });
      return `lists ${bucket.url}`;
    }),
  );
  // The rotation schedule runs as runs by hub:schedule; the newest one tells when it last did something.
  let lastRotation: RunRecord | undefined;
  for (const p of planes) {
    for (const r of extra.runs(p.name)) if (r.actor === 'hub:schedule' && (!lastRotation || r.createdAt > lastRotation.createdAt)) lastRotation = r;
  }
  const jobs = [
    ...info.jobs.list(),
    {
      name: 'secret rotation schedule',
      every: `cron ${info.secretRotationCron}`,
      runs: 0,
      lastRunAt: lastRotation?.createdAt ?? null,
      lastMs: null,
      lastError: lastRotation && lastRotation.state !== 'succeeded' && lastRotation.state !== 'running' ? `run ${lastRotation.id} ${lastRotation.state}` : null,
    },
  ];
  const agents = ctx.agents.list();
  return {
    ok: checks.every((c) => c.ok) && jobs.every((j) => !j.lastError),
    version: ctx.version,
    startedAt: info.startedAt,
    uptimeMs: now - info.startedAt,
    pid: process.pid,
    checks,
    jobs,
    agents: { total: agents.length, connected: agents.filter((a) => ctx.sessions.isConnected(a.id)).length },
    console: { sessions: extra.sessions, streams: extra.streams },
  };
}
