/**
 * What `planes up -f planes.yaml` runs (verbs/up.ts declares it): the main job
 * on embedded defaults. Starts a hub in this process (data in --data-dir),
 * creates the file's plane and agents with the local provider (through the REST
 * API's apply, as `planes apply` does), waits for them to turn green with
 * progress, prints where everything is and the status table, then reports
 * health changes until Ctrl-C, when it stops the agents and the hub. State
 * survives in the data dir: the next `up` resumes it. The only CLI module that
 * loads the hub; nothing imports it but verbs/up.ts, lazily.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ErrorCode, ExitCode, PlaneError } from '../common/src/errors.ts';
import { silentSink, stderrSink, type LogRecord } from '../common/src/logger.ts';
import { Hub } from '../hub/src/hub.ts';
import type { Agent } from './api.ts';
import type { HubClient, HubTarget } from './hub-client.ts';
import { loadPlanesFile } from './planes-file.ts';
import type { UP_CALLS, UpValues } from './up-flags.ts';
import { agentTable, isUp } from './views/agent-table.ts';

/** Built-in providers' key variables that `up` turns into per-agent secrets. */
const MODEL_KEY_VARS = ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'XAI_API_KEY'] as const;

export async function runUp(values: UpValues, connect: (target: HubTarget) => HubClient<(typeof UP_CALLS)[number]>): Promise<number> {
  const file = await loadPlanesFile(values.file);
  const grpcListen = values['grpc-listen'];
  const apiListen = values['api-listen'];
  const say = (t: string): void => {
    if (!values.json) process.stderr.write(`${t}\n`);
  };
  // Hub logs go to a file-like sink only when asked: the terminal is for the person.
  const sink = values.verbose ? stderrSink : (r: LogRecord) => (r.level === 'error' ? stderrSink(r) : silentSink(r));
  const hb = values['heartbeat-interval-ms'];
  const healMs = values['heal-red-after-ms'];
  const timeoutSeconds = values['timeout-seconds'];
  const runtime = values.runtime;
  const hub = new Hub(
    {
      dataDir: values['data-dir'],
      grpcHost: grpcListen.host,
      grpcPort: grpcListen.port,
      apiHost: apiListen.host,
      apiPort: apiListen.port,
      ...(hb ? { heartbeatIntervalMs: hb } : {}),
      ...(healMs !== undefined ? { healRedAfterMs: healMs } : {}),
      localRuntime: runtime,
      ...(values['runtime-root'] ? { localRuntimeRoot: values['runtime-root'] } : {}),
    },
    sink,
  );
  say(`starting hub (data: ${values['data-dir']})...`);
  let endpoints;
  try {
    endpoints = await hub.start();
  } catch (err) {
    const e = PlaneError.from(err);
    if (e.code === ErrorCode.Unavailable) e.message += ' (another hub running? choose ports with --grpc-listen / --api-listen)';
    throw e;
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      say('\nstopping agents and hub...');
      await hub.localProvider.stopAll();
      await hub.close();
      say('stopped. State is kept in ' + values['data-dir'] + '; run the same command to resume.');
    })());
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });

  try {
    if (runtime === 'openclaw') {
      // Once per host: later runs find it verified and skip the download.
      const install = new AbortController();
      void signalled.then(() => install.abort());
      await hub.localProvider.prepareRuntime((m) => say(`runtime: ${m}`), install.signal);
    }
    const client = connect({ url: endpoints.apiUrl, token: readFileSync(endpoints.adminTokenFile, 'utf8').trim() });
    const planeName = file.metadata.name;
    // The same path as `planes apply`: creates the plane and missing agents, brings drifted ones back to the file.
    const applied = await client.call('POST /v1/planes/{planeId}/apply', { params: { planeId: planeName }, body: { document: file, prune: false, waitSeconds: 0 } });
    if (applied.plan.planeAction === 'create') say(`created plane ${planeName}`);
    for (const r of applied.results) {
      if (r.outcome === 'failed') say(`${planeName}/${r.agent}: ${r.action} failed: ${r.message ?? ''}`);
      else if (r.action === 'create') say(`provisioned ${planeName}/${r.agent} (local agentd process)`);
      else if (r.action === 'change') say(`updated ${planeName}/${r.agent} to match ${values.file}: ${r.message ?? ''}`);
    }
    // Convenience for the embedded setup: model keys in this shell's environment become each
    // agent's own secret (through the API, like `planes secrets set`); the value is never printed.
    for (const key of MODEL_KEY_VARS) {
      const value = process.env[key];
      if (!value) continue;
      for (const a of file.spec.agents) {
        await client.call('PUT /v1/planes/{planeId}/agents/{agentId}/secrets/{name}', {
          params: { planeId: planeName, agentId: a.name, name: key },
          body: { value: Buffer.from(value).toString('base64'), encoding: 'base64' },
        });
      }
      say(`set ${key} from the environment as a secret of ${file.spec.agents.length} agents`);
    }

    const deadline = Date.now() + timeoutSeconds * 1000;
    let agents: Agent[] = [];
    let last = '';
    // Up = the gateway is running and ready. Without a model key that is yellow
    // ("secret missing"), which is the honest state of a fresh embedded setup.
    for (;;) {
      agents = (await client.call('GET /v1/planes/{planeId}/agents', { params: { planeId: planeName } })).agents;
      const up = agents.filter(isUp).length;
      const line = `waiting for gateways: ${up}/${agents.length} ready${agents.filter((a) => !isUp(a)).map((a) => `; ${a.name}: ${a.health.reason}`).join('')}`;
      if (line !== last) say(line);
      last = line;
      if (up === agents.length || Date.now() > deadline) break;
      const done = await Promise.race([signalled.then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
      if (done) return (await stop(), ExitCode.Ok);
    }

    const rel = (p: string): string => relative(process.cwd(), p) || p;
    if (values.json) {
      console.log(JSON.stringify({ endpoints, agents }, null, 2));
    } else {
      console.log(`
Agents Plane is up: one hub, ${agents.length} local agents.
  REST API     ${endpoints.apiUrl}   (OpenAPI: ${endpoints.apiUrl}/v1/openapi.json)
  gRPC         ${endpoints.grpcAddress}   (TLS; CA ${rel(endpoints.caFile)})
  admin token  ${rel(endpoints.adminTokenFile)}   (mode 0600; never printed)
  from another terminal:  npm run planes -- status${values['data-dir'] === '.planes-data' ? '' : ` --data-dir ${rel(values['data-dir'])}`}   (reads ${rel(values['data-dir'])}/hub.json)

${agentTable(agents, process.stdout.isTTY)}

${
  runtime === 'placeholder'
    ? 'Runtime: placeholder children (--runtime placeholder), no OpenClaw gateways.'
    : agents.some((a) => a.health.reason.startsWith('secret missing'))
      ? 'Gateways are up without a model key (yellow: secret missing). Give an agent its key with\n  npm run planes -- secrets set --plane ' + planeName + ' --name AGENT ANTHROPIC_API_KEY   (reads the value from stdin or a prompt)\nor start with ANTHROPIC_API_KEY in the environment to set it for every agent.'
      : 'Gateways are up.'
}
Ctrl-C stops the agents and the hub.`);
    }
    const allUp = agents.every(isUp);
    if (!allUp) say('warning: not every gateway became ready in time; see the REASON column');

    const colours = new Map(agents.map((a) => [a.name, a.health.color]));
    const watch = setInterval(() => {
      void client
        .call('GET /v1/planes/{planeId}/agents', { params: { planeId: planeName } })
        .then((r) => {
          for (const a of r.agents) {
            if (colours.get(a.name) !== a.health.color) say(`${new Date().toISOString()} ${a.name}: ${colours.get(a.name) ?? 'new'} -> ${a.health.color} (${a.health.reason})`);
            colours.set(a.name, a.health.color);
          }
        })
        .catch(() => undefined);
    }, 2000);
    await signalled;
    clearInterval(watch);
    await stop();
    return allUp ? ExitCode.Ok : ExitCode.PartialFailure;
  } catch (err) {
    await stop();
    // Ctrl-C during the runtime download is a normal way to leave.
    if (PlaneError.from(err).code === ErrorCode.Aborted) return ExitCode.Ok;
    throw err;
  }
}
