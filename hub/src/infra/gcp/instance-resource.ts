import type { protos } from '@google-cloud/compute';
import { AGENT_TAG } from './gcp-names.ts';
import { networkPath } from './firewalls.ts';

export type Instance = protos.google.cloud.compute.v1.IInstance;

export interface InstanceInput {
  project: string;
  zone: string;
  name: string;
  machineType: string;
  diskSizeGb: number;
  /** projects/P/global/images/family/F, or one image. */
  sourceImage: string;
  network: string;
  subnetwork?: string | undefined;
  region: string;
  serviceAccountEmail: string;
  labels: Record<string, string>;
  spot: boolean;
  /** What agentd reads at boot (docs/image.md): plane, agent, hub, CA; enrolment by instance identity. */
  bootstrap: { plane: string; agent: string; hub: string; caPem: string; audience?: string | undefined };
  startupScript?: string | undefined;
}

/** A region's subnetwork path from a name, or the path as given. */
function subnetworkPath(project: string, region: string, subnetwork: string): string {
  return subnetwork.includes('/') ? subnetwork : `projects/${project}/regions/${region}/subnetworks/${subnetwork}`;
}

/**
 * The instance body for `instances.insert`, as Compute's REST API takes it:
 * - no `accessConfigs`, so no external IP (egress through Cloud NAT, Google
 *   APIs through Private Google Access);
 * - Shielded VM with secure boot, vTPM and integrity monitoring;
 * - OS Login on and project-wide SSH keys blocked, so only IAM decides who logs in;
 * - the `ap-agent` tag the plane's firewall rules select;
 * - the agent's own service account, which lets the metadata server sign identity tokens;
 * - enrolment by instance identity: the metadata says who the agent is and where the hub is, and carries no secret;
 * - Spot: `provisioningModel: SPOT`, stopped (disk kept) when preempted, never restarted by Google.
 */
export function instanceResource(i: InstanceInput): Instance {
  const meta: Array<{ key: string; value: string }> = [
    { key: 'enable-oslogin', value: 'TRUE' },
    { key: 'block-project-ssh-keys', value: 'TRUE' },
    { key: 'agents-plane-plane', value: i.bootstrap.plane },
    { key: 'agents-plane-agent', value: i.bootstrap.agent },
    { key: 'agents-plane-hub', value: i.bootstrap.hub },
    { key: 'agents-plane-hub-ca', value: i.bootstrap.caPem },
    { key: 'agents-plane-enrollment', value: 'instance-identity' },
    ...(i.bootstrap.audience ? [{ key: 'agents-plane-audience', value: i.bootstrap.audience }] : []),
    ...(i.startupScript ? [{ key: 'startup-script', value: i.startupScript }] : []),
  ];
  return {
    name: i.name,
    machineType: `zones/${i.zone}/machineTypes/${i.machineType}`,
    labels: i.labels,
    tags: { items: [AGENT_TAG] },
    disks: [
      {
        boot: true,
        autoDelete: true,
        initializeParams: { sourceImage: i.sourceImage, diskSizeGb: String(i.diskSizeGb), diskType: `zones/${i.zone}/diskTypes/pd-balanced`, labels: i.labels },
      },
    ],
    networkInterfaces: [{ network: networkPath(i.project, i.network), ...(i.subnetwork ? { subnetwork: subnetworkPath(i.project, i.region, i.subnetwork) } : {}) }],
    serviceAccounts: [{ email: i.serviceAccountEmail, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
    shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
    metadata: { items: meta },
    scheduling: i.spot
      ? { provisioningModel: 'SPOT', instanceTerminationAction: 'STOP', automaticRestart: false, onHostMaintenance: 'TERMINATE' }
      : { provisioningModel: 'STANDARD', automaticRestart: true, onHostMaintenance: 'MIGRATE' },
  };
}
