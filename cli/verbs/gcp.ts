/**
 * `planes gcp preflight` and `planes ssh`: the Google Cloud verbs. They talk
 * to the hub like every other verb; the hub asks Google with its own identity.
 */
import { spawn } from 'node:child_process';
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { verb } from '../verb.ts';
import { preflightText } from '../views/preflight-view.ts';

export const gcpPreflight = verb({
  name: 'gcp preflight',
  group: 'Google Cloud',
  summary: 'What a Google Cloud project lacks for gcp planes, and the gcloud fix for each',
  details: 'The hub checks the project with its own identity. Exit 1 when a check fails.',
  flags: [
    { name: 'project', value: 'P', help: 'the project', required: true },
    { name: 'region', value: 'R', help: 'the region', required: true },
    { name: 'zone', value: 'Z', help: 'a zone of the region (default <region>-b)' },
    { name: 'agents', kind: 'int', value: 'N', help: 'how many agents the quotas must hold (default 1)' },
    { name: 'machine-type', value: 'T', help: 'their machine type (default e2-small)' },
    { name: 'image', value: 'I', help: 'the image (default the agents-plane-agentd family in the project)' },
    { name: 'identity', value: 'EMAIL', help: "the hub's service account, when its credentials do not say" },
  ],
  calls: ['POST /v1/gcp/preflight'],
  async run({ values: v, out, hub }) {
    out.progress(`checking project ${v.project}...`);
    const r = await hub.call('POST /v1/gcp/preflight', {
      body: {
        project: v.project,
        region: v.region,
        ...(v.zone ? { zone: v.zone } : {}),
        ...(v.image ? { image: v.image } : {}),
        ...(v.agents !== undefined ? { agents: v.agents } : {}),
        ...(v['machine-type'] ? { machineType: v['machine-type'] } : {}),
        ...(v.identity ? { identity: v.identity } : {}),
      },
    });
    if (out.json) out.printJson(r);
    else out.print(preflightText(r));
    return r.ok ? ExitCode.Ok : ExitCode.PartialFailure;
  },
});

export const ssh = verb({
  name: 'ssh',
  group: 'Google Cloud',
  summary: "The owner's gcloud compute ssh through IAP (gcp planes); --exec runs it",
  details: 'With --exec it runs as you, with your own gcloud login (IAP lets only the owner in), and exits with its code.',
  flags: [
    { name: 'plane', value: 'P', help: 'the plane', required: true },
    { name: 'name', value: 'A', help: 'the agent', required: true },
    { name: 'exec', kind: 'boolean', help: 'run the command' },
  ],
  calls: ['GET /v1/planes/{planeId}/agents/{agentId}/ssh'],
  async run({ values: v, out, hub }) {
    const r = await hub.call('GET /v1/planes/{planeId}/agents/{agentId}/ssh', { params: { planeId: v.plane, agentId: v.name } });
    if (!v.exec) {
      if (out.json) out.printJson(r);
      else out.print(`${r.command.join(' ')}\n# only ${r.owner} can use it: IAP and OS Login let the owner in and nobody else`);
      return ExitCode.Ok;
    }
    // Runs as the person at the keyboard, with their own gcloud login: IAP checks it is the owner.
    const [cmd, ...argv] = r.command;
    return new Promise<number>((resolve, reject) => {
      const child = spawn(cmd ?? 'gcloud', argv, { stdio: 'inherit' });
      child.on('error', (err: NodeJS.ErrnoException) =>
        reject(new PlaneError(ErrorCode.FailedPrecondition, err.code === 'ENOENT' ? 'gcloud is not installed or not on PATH (https://cloud.google.com/sdk/docs/install)' : `could not run gcloud: ${err.message}`)),
      );
      child.on('exit', (code) => resolve(code ?? ExitCode.Internal));
    });
  },
});
