import type { GcpCalls } from './gcp-calls.ts';
import { gcpReason, isNotFound } from './gcp-errors.ts';
import { DEFAULT_IMAGE_FAMILY } from './gcp-names.ts';
import { DEFAULT_SERVICE_ACCOUNT_QUOTA, ServiceAccounts } from './service-accounts.ts';

/** The APIs the provider calls in the plane's project. */
export const REQUIRED_APIS = ['compute.googleapis.com', 'iam.googleapis.com', 'iap.googleapis.com', 'serviceusage.googleapis.com', 'cloudresourcemanager.googleapis.com'] as const;

/**
 * What the hub's own identity needs on the plane's project, least privilege:
 * each permission the provider uses and the narrowest predefined role that
 * grants it. docs/operations.md lists the same roles.
 */
export const REQUIRED_PERMISSIONS: ReadonlyArray<{ permission: string; role: string; why: string }> = [
  { permission: 'compute.instances.create', role: 'roles/compute.instanceAdmin.v1', why: 'create agent VMs' },
  { permission: 'compute.instances.delete', role: 'roles/compute.instanceAdmin.v1', why: 'delete agent VMs' },
  { permission: 'compute.instances.setMachineType', role: 'roles/compute.instanceAdmin.v1', why: 'resize' },
  { permission: 'compute.instances.setLabels', role: 'roles/compute.instanceAdmin.v1', why: 'cost labels' },
  { permission: 'compute.instances.setMetadata', role: 'roles/compute.instanceAdmin.v1', why: 'bootstrap metadata' },
  { permission: 'compute.instances.setServiceAccount', role: 'roles/compute.instanceAdmin.v1', why: "the agent's service account" },
  { permission: 'compute.instances.setIamPolicy', role: 'roles/compute.instanceAdmin.v1', why: "the owner's OS Login binding" },
  { permission: 'compute.disks.create', role: 'roles/compute.instanceAdmin.v1', why: 'boot disks' },
  { permission: 'compute.disks.resize', role: 'roles/compute.instanceAdmin.v1', why: 'grow disks' },
  { permission: 'compute.images.useReadOnly', role: 'roles/compute.instanceAdmin.v1', why: 'boot from the golden image' },
  { permission: 'compute.subnetworks.use', role: 'roles/compute.networkUser', why: 'attach VMs to the subnetwork' },
  { permission: 'compute.firewalls.create', role: 'roles/compute.securityAdmin', why: "the plane network's two rules (or create them yourself)" },
  { permission: 'iam.serviceAccounts.create', role: 'roles/iam.serviceAccountAdmin', why: 'one service account per agent' },
  { permission: 'iam.serviceAccounts.delete', role: 'roles/iam.serviceAccountAdmin', why: 'remove it with the agent' },
  { permission: 'iam.serviceAccounts.setIamPolicy', role: 'roles/iam.serviceAccountAdmin', why: "the owner's serviceAccountUser binding" },
  { permission: 'iam.serviceAccounts.actAs', role: 'roles/iam.serviceAccountUser', why: "run VMs as the agents' accounts" },
  { permission: 'iap.tunnelInstances.setIamPolicy', role: 'roles/iap.admin', why: "the owner's IAP tunnel binding" },
  { permission: 'serviceusage.services.list', role: 'roles/serviceusage.serviceUsageViewer', why: 'preflight: enabled APIs' },
];

/** Roles that hold far more than the provider needs; a hub identity with them is flagged. */
const TOO_BROAD = new Set(['roles/owner', 'roles/editor', 'roles/compute.admin', 'roles/iam.serviceAccountKeyAdmin', 'roles/resourcemanager.projectIamAdmin']);

export interface PreflightInput {
  project: string;
  region: string;
  zone?: string | undefined;
  /** projects/P/global/images/family/F or one image; default the golden image family in the project. */
  image?: string | undefined;
  /** The plane's size: quotas must hold this many agents of this machine type. */
  agents?: number | undefined;
  machineType?: string | undefined;
  /** The hub's own identity (e-mail), when known: named in fixes and checked for over-broad roles. */
  identity?: string | undefined;
}

export interface PreflightCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** A gcloud command that fixes it. */
  fix?: string;
}

export interface PreflightReport {
  ok: boolean;
  project: string;
  region: string;
  zone: string;
  checks: PreflightCheck[];
}

/**
 * `planes gcp preflight`: before a plane is created, what the project lacks
 * for the gcp provider, each with the gcloud command that fixes it. Asks
 * Google with the hub's own identity (it is the hub that will do the work).
 */
export async function gcpPreflight(calls: GcpCalls, input: PreflightInput): Promise<PreflightReport> {
  const { project, region } = input;
  const zone = input.zone ?? `${region}-b`;
  const member = input.identity ? `serviceAccount:${input.identity}` : 'serviceAccount:HUB_SERVICE_ACCOUNT';
  const checks: PreflightCheck[] = [];
  const step = async (name: string, fn: () => Promise<PreflightCheck | PreflightCheck[]>): Promise<void> => {
    try {
      checks.push(...[await fn()].flat());
    } catch (err) {
      checks.push({ name, status: 'fail', detail: gcpReason(err) });
    }
  };
  const rest = calls.clients.rest;

  await step('apis', async () => {
    const r = await calls.run('serviceusage.services.list', () => rest.call<{ services?: Array<{ config?: { name?: string } }> }>('serviceusage', `v1/projects/${project}/services`, { query: { filter: 'state:ENABLED', pageSize: '200' } }));
    const enabled = new Set((r.services ?? []).map((s) => s.config?.name));
    const missing = REQUIRED_APIS.filter((a) => !enabled.has(a));
    return missing.length === 0
      ? { name: 'apis', status: 'ok', detail: `enabled: ${REQUIRED_APIS.join(', ')}` }
      : { name: 'apis', status: 'fail', detail: `not enabled: ${missing.join(', ')}`, fix: `gcloud services enable ${missing.join(' ')} --project ${project}` };
  });

  await step('roles', async () => {
    const r = await calls.run('projects.testIamPermissions', () =>
      rest.call<{ permissions?: string[] }>('cloudresourcemanager', `v3/projects/${project}:testIamPermissions`, { body: { permissions: REQUIRED_PERMISSIONS.map((p) => p.permission) } }),
    );
    const held = new Set(r.permissions ?? []);
    const missingRoles = [...new Set(REQUIRED_PERMISSIONS.filter((p) => !held.has(p.permission)).map((p) => p.role))];
    const out: PreflightCheck[] = [];
    for (const role of missingRoles) {
      const perms = REQUIRED_PERMISSIONS.filter((p) => p.role === role && !held.has(p.permission));
      out.push({
        name: `role ${role}`,
        status: 'fail',
        detail: `the hub lacks ${perms.map((p) => p.permission).join(', ')} (${[...new Set(perms.map((p) => p.why))].join('; ')})`,
        fix: `gcloud projects add-iam-policy-binding ${project} --member=${member} --role=${role}`,
      });
    }
    if (out.length === 0) out.push({ name: 'roles', status: 'ok', detail: `the hub holds all ${REQUIRED_PERMISSIONS.length} permissions the provider uses` });
    if (input.identity) {
      const policy = await calls.run('projects.getIamPolicy', () => rest.call<{ bindings?: Array<{ role: string; members: string[] }> }>('cloudresourcemanager', `v3/projects/${project}:getIamPolicy`, { body: {} }));
      for (const b of policy.bindings ?? []) {
        if (b.members.includes(member) && TOO_BROAD.has(b.role)) {
          out.push({ name: `role ${b.role}`, status: 'warn', detail: `the hub holds ${b.role}, far more than it needs`, fix: `gcloud projects remove-iam-policy-binding ${project} --member=${member} --role=${b.role}` });
        }
      }
    }
    return out;
  });

  await step('image', async () => {
    const image = input.image ?? `projects/${project}/global/images/family/${DEFAULT_IMAGE_FAMILY}`;
    const m = /^projects\/([^/]+)\/global\/images\/(family\/)?([^/]+)$/.exec(image);
    if (!m) return { name: 'image', status: 'fail', detail: `${image} is not projects/P/global/images/[family/]NAME` };
    const [, imgProject, family, name] = m as unknown as [string, string, string | undefined, string];
    try {
      const [img] = family
        ? await calls.run('images.getFromFamily', () => calls.clients.images.getFromFamily({ project: imgProject, family: name }, calls.call))
        : await calls.run('images.get', () => calls.clients.images.get({ project: imgProject, image: name }, calls.call));
      return { name: 'image', status: 'ok', detail: `${image} is ${img.name ?? '?'}` };
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return { name: 'image', status: 'fail', detail: `no image ${image}`, fix: `packer build -var project_id=${imgProject} packer/agentd.pkr.hcl   (see docs/image.md)` };
    }
  });

  await step('quota', async () => {
    const [r] = await calls.run('regions.get', () => calls.clients.regions.get({ project, region }, calls.call));
    const zones = (r.zones ?? []).map((z) => z.split('/').at(-1));
    const out: PreflightCheck[] = [];
    if (!zones.includes(zone)) out.push({ name: 'zone', status: 'fail', detail: `zone ${zone} is not in region ${region} (${zones.join(', ')})` });
    const agents = input.agents ?? 1;
    const type = input.machineType ?? 'e2-small';
    const [mt] = await calls.run('machineTypes.get', () => calls.clients.machineTypes.get({ project, zone: zones.includes(zone) ? zone : (zones[0] ?? zone), machineType: type }, calls.call));
    const need = agents * (mt.guestCpus ?? 0);
    const cpus = (r.quotas ?? []).find((q) => q.metric === 'CPUS');
    const free = (cpus?.limit ?? 0) - (cpus?.usage ?? 0);
    out.push(
      free >= need
        ? { name: 'quota CPUS', status: 'ok', detail: `${free} of ${cpus?.limit ?? 0} vCPUs free in ${region}; ${agents} x ${type} needs ${need}` }
        : { name: 'quota CPUS', status: 'fail', detail: `${free} of ${cpus?.limit ?? 0} vCPUs free in ${region}; ${agents} x ${type} needs ${need}`, fix: `gcloud compute regions describe ${region} --project ${project}   (then ask for more CPUS in the console: IAM & Admin > Quotas)` },
    );
    const accounts = await new ServiceAccounts(calls).count(project);
    const room = DEFAULT_SERVICE_ACCOUNT_QUOTA - accounts;
    // The project's own limit cannot be read; past the default it is a warning, not a failure.
    out.push(
      room >= agents
        ? { name: 'quota service accounts', status: 'ok', detail: `${accounts} of ${DEFAULT_SERVICE_ACCOUNT_QUOTA} (the default quota) in use; the plane needs ${agents}` }
        : {
            name: 'quota service accounts',
            status: 'warn',
            detail: `${accounts} in use and the plane needs ${agents}: past the default quota of ${DEFAULT_SERVICE_ACCOUNT_QUOTA} per project unless yours was raised`,
            fix: 'ask for a higher service account quota (IAM & Admin > Quotas), or put the plane in another project',
          },
    );
    return out;
  });

  return { ok: checks.every((c) => c.status !== 'fail'), project, region, zone, checks };
}
