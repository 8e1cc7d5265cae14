/**
 * `planes gcp preflight` and `planes ssh`: the Google Cloud verbs. They talk
 * to the hub like every other verb; the hub asks Google with its own identity.
 */
import { spawn } from 'node:child_process';
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { intFlag, parseFlags } from '../../common/src/cli-args.ts';
import { table } from '../format.ts';
import type { HubClient } from '../hub-client.ts';

export interface PreflightView {
  ok: boolean;
  project: string;
  region: string;
  zone: string;
  checks: Array<{ name: string; status: 'ok' | 'warn' | 'fail'; detail: string; fix?: string }>;
}

type Out = { json: boolean; print: (text: string) => void; printJson: (v: unknown) => void; progress: (text: string) => void };
type Values = Record<string, string | boolean | string[] | undefined>;

/** What the verbs need from planes.ts: its global flags and how it makes a client. */
export interface CliKit {
  globalFlags: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>;
  client(values: Values): HubClient;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The report as a table, with the gcloud fix under each failing check. */
export function preflightText(r: PreflightView): string {
  const rows = r.checks.map((c) => [c.status === 'fail' ? 'FAIL' : c.status, c.name, c.detail]);
  const fixes = r.checks.filter((c) => c.fix && c.status !== 'ok').map((c) => `  ${c.name}:\n    ${c.fix ?? ''}`);
  return [
    `preflight for project ${r.project}, region ${r.region}, zone ${r.zone}`,
    table(['CHECK', 'NAME', 'DETAIL'], rows),
    ...(fixes.length ? ['', 'to fix:', ...fixes] : []),
    '',
    r.ok ? 'preflight: ok' : 'preflight: FAILED (fix the above, then run it again)',
  ].join('\n');
}

/** Runs the hub's preflight for a project; returns the report. */
export async function runPreflight(c: HubClient, body: { project: string; region: string; zone?: string; image?: string; agents?: number; machineType?: string; identity?: string }): Promise<PreflightView> {
  return c.request<PreflightView>('POST', '/v1/gcp/preflight', body);
}

export function gcpCommands(kit: CliKit): Record<string, (args: string[], out: Out) => Promise<number>> {
  return {
    async gcp(args, out) {
      const [sub, ...rest] = args;
      if (sub !== 'preflight') throw new PlaneError(ErrorCode.InvalidArgument, `unknown gcp command '${sub ?? ''}' (planes gcp preflight --project P --region R)`);
      const { values } = parseFlags(rest, {
        ...kit.globalFlags,
        project: { type: 'string' },
        region: { type: 'string' },
        zone: { type: 'string' },
        image: { type: 'string' },
        agents: { type: 'string' },
        'machine-type': { type: 'string' },
        identity: { type: 'string' },
      });
      for (const f of ['project', 'region'] as const) if (!str(values[f])) throw new PlaneError(ErrorCode.InvalidArgument, `--${f} is required`, { where: `--${f}` });
      const agents = intFlag(str(values['agents']), 'agents');
      out.progress(`checking project ${String(values['project'])}...`);
      const r = await runPreflight(kit.client(values), {
        project: String(values['project']),
        region: String(values['region']),
        ...(str(values['zone']) ? { zone: String(values['zone']) } : {}),
        ...(str(values['image']) ? { image: String(values['image']) } : {}),
        ...(agents !== undefined ? { agents } : {}),
        ...(str(values['machine-type']) ? { machineType: String(values['machine-type']) } : {}),
        ...(str(values['identity']) ? { identity: String(values['identity']) } : {}),
      });
      if (out.json) out.printJson(r);
      else out.print(preflightText(r));
      return r.ok ? ExitCode.Ok : ExitCode.PartialFailure;
    },

    async ssh(args, out) {
      const { values } = parseFlags(args, { ...kit.globalFlags, plane: { type: 'string' }, name: { type: 'string' }, exec: { type: 'boolean', default: false } });
      for (const f of ['plane', 'name'] as const) if (!str(values[f])) throw new PlaneError(ErrorCode.InvalidArgument, `--${f} is required`, { where: `--${f}` });
      const r = await kit.client(values).request<{ owner: string; project: string; zone: string; instance: string; command: string[] }>(
        'GET',
        `/v1/planes/${encodeURIComponent(String(values['plane']))}/agents/${encodeURIComponent(String(values['name']))}/ssh`,
      );
      if (!values['exec']) {
        if (out.json) out.printJson(r);
        else out.print(`${r.command.join(' ')}\n# only ${r.owner} can use it: IAP and OS Login let the owner in and nobody else`);
        return ExitCode.Ok;
      }
      // Runs as the person at the keyboard, with their own gcloud login: IAP checks it is the owner.
      const [cmd, ...argv] = r.command;
      return new Promise<number>((resolve, reject) => {
        const child = spawn(cmd as string, argv, { stdio: 'inherit' });
        child.on('error', (err: NodeJS.ErrnoException) =>
          reject(new PlaneError(ErrorCode.FailedPrecondition, err.code === 'ENOENT' ? 'gcloud is not installed or not on PATH (https://cloud.google.com/sdk/docs/install)' : `could not run gcloud: ${err.message}`)),
        );
        child.on('exit', (code) => resolve(code ?? ExitCode.Internal));
      });
    },
  };
}
