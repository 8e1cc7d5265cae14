/** Plane lifecycle: create, list, delete. */
import { ErrorCode, ExitCode, PlaneError } from '../../common/src/errors.ts';
import { table } from '../format.ts';
import { loadPlanesFile } from '../planes-file.ts';
import { verb } from '../verb.ts';
import { preflightText } from '../views/preflight-view.ts';

export const create = verb({
  name: 'create',
  group: 'Plane lifecycle',
  summary: 'Create a plane (gcp: runs gcp preflight first, creates nothing if it fails)',
  details:
    'With --config, the file supplies the plane name, providers, region, project, zone, network and infrastructure.defaults; flags win. ' +
    'Agents and policies of the file are not used: apply -f makes a plane and its agents from the whole file.',
  flags: [
    { name: 'name', value: 'P', help: 'the plane (required unless --config gives metadata.name)' },
    { name: 'infra-provider', choices: ['local', 'manual', 'gcp'], help: 'where agents run (default local, or the file\'s)' },
    { name: 'region', value: 'R', help: 'the region' },
    { name: 'project', value: 'ID', help: 'the cloud project (gcp)' },
    { name: 'zone', value: 'Z', help: 'a zone of the region (gcp; default <region>-b)' },
    { name: 'network', value: 'N', help: 'the VPC network (gcp; default default)' },
    { name: 'subnetwork', value: 'S', help: 'the VPC subnetwork (gcp)' },
    { name: 'skip-preflight', kind: 'boolean', help: 'create a gcp plane without checking the project first' },
    { name: 'identity-provider', value: 'X', help: 'stored only' },
    { name: 'secrets-provider', value: 'X', help: 'stored only' },
    { name: 'network-provider', value: 'X', help: 'stored only' },
    { name: 'config', value: 'planes.yaml', help: 'take the plane settings from this file' },
  ],
  calls: ['POST /v1/gcp/preflight', 'POST /v1/planes'],
  async run({ values: v, out, hub }) {
    const file = v.config ? await loadPlanesFile(v.config) : undefined;
    const name = v.name ?? file?.metadata.name;
    if (!name) throw new PlaneError(ErrorCode.InvalidArgument, '--name is required', { where: '--name' });
    const infra = file?.spec.infrastructure;
    // A flag wins over the file; nothing given, nothing sent (the hub's defaults apply).
    const pick = <T>(flag: T | undefined, fromFile: T | undefined): T | undefined => flag ?? fromFile;
    const given = <K extends string, T>(key: K, value: T | undefined): { [k in K]?: T } => (value !== undefined && value !== '' ? ({ [key]: value } as { [k in K]: T }) : {});
    const body = {
      name,
      infraProvider: v['infra-provider'] ?? infra?.provider ?? 'local',
      ...given('identityProvider', pick(v['identity-provider'], file?.spec.identity?.provider)),
      ...given('secretsProvider', pick(v['secrets-provider'], file?.spec.secrets?.provider)),
      ...given('networkProvider', pick(v['network-provider'], file?.spec.networking?.provider)),
      ...given('region', pick(v.region, infra?.region)),
      ...given('project', pick(v.project, infra?.project)),
      ...given('zone', pick(v.zone, infra?.zone)),
      ...given('network', pick(v.network, infra?.network)),
      ...given('subnetwork', pick(v.subnetwork, infra?.subnetwork)),
      ...(infra?.defaults ? { defaults: infra.defaults } : {}),
      ...(file?.spec.costs ? { costs: file.spec.costs } : {}),
    };
    if (body.infraProvider === 'gcp' && !v['skip-preflight']) {
      // A plane whose project cannot hold it fails here, before anything is created.
      out.progress(`preflight for project ${body.project ?? ''}...`);
      const r = await hub.call('POST /v1/gcp/preflight', {
        body: {
          project: body.project ?? '',
          region: body.region ?? '',
          ...given('zone', body.zone),
          ...given('image', infra?.defaults?.image),
          ...(file ? { agents: Math.max(1, file.spec.agents.length), ...given('machineType', infra?.defaults?.machineType) } : {}),
        },
      });
      if (!r.ok) {
        if (out.json) out.printJson({ preflight: r });
        else out.print(preflightText(r));
        throw new PlaneError(ErrorCode.FailedPrecondition, `plane ${name} not created: project ${r.project} failed preflight (--skip-preflight to create it anyway)`);
      }
    }
    const plane = await hub.call('POST /v1/planes', { body });
    if (out.json) out.printJson(plane);
    else out.print(`created plane ${plane.name} (infra: ${plane.spec.infraProvider})`);
    return ExitCode.Ok;
  },
});

export const list = verb({
  name: 'list',
  group: 'Plane lifecycle',
  summary: 'Table of planes: name, agent count, infra, region',
  flags: [],
  calls: ['GET /v1/planes'],
  async run({ out, hub }) {
    const r = await hub.call('GET /v1/planes', {});
    if (out.json) out.printJson(r);
    else out.print(table(['PLANE', 'AGENTS', 'INFRA', 'REGION'], r.planes.map((p) => [p.name, String(p.agentCount), p.spec.infraProvider, p.spec.region])));
    return ExitCode.Ok;
  },
});

export const remove = verb({
  name: 'delete',
  group: 'Plane lifecycle',
  summary: 'Delete a plane; --force removes its agents first',
  flags: [
    { name: 'plane', value: 'P', help: 'the plane', required: true },
    { name: 'force', kind: 'boolean', help: 'remove its agents (their machines and brains) first' },
  ],
  calls: ['DELETE /v1/planes/{planeId}'],
  async run({ values: v, out, hub }) {
    const r = await hub.call('DELETE /v1/planes/{planeId}', { params: { planeId: v.plane }, query: v.force ? { force: true } : {} });
    if (out.json) out.printJson(r);
    else out.print(`deleted plane ${r.deleted}${r.removedAgents.length ? ` and its agents: ${r.removedAgents.join(', ')}` : ''}`);
    return ExitCode.Ok;
  },
});
