import { createHash } from 'node:crypto';
import { gceInstanceName } from '../../../../common/src/instance-identity.ts';

/** Names of what the gcp provider creates; each derived from plane and agent, so nothing needs a lookup table. */

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export { gceInstanceName };

/**
 * The agent's service account id: IAM allows 6-30 characters of
 * `[a-z]([-a-z0-9]*[a-z0-9])`, agent names are up to 40, and two planes may
 * have agents of the same name. So: `ap-`, up to 17 characters of the agent
 * name, and 8 hex of sha256("<plane>/<agent>"); readable in the console,
 * unique per plane and agent.
 */
export function serviceAccountId(plane: string, agent: string): string {
  const readable = agent.slice(0, 17).replace(/-+$/, '');
  return `ap-${readable}-${sha(`${plane}/${agent}`).slice(0, 8)}`;
}

export function serviceAccountEmail(project: string, accountId: string): string {
  return `${accountId}@${project}.iam.gserviceaccount.com`;
}

/** A label-safe stand-in for an e-mail: labels are visible to anyone who can read the bill. */
export function ownerLabel(email: string): string {
  return `h-${sha(email.toLowerCase()).slice(0, 16)}`;
}

/** Label values allow [a-z0-9_-], at most 63. */
export function labelSafe(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
}

/**
 * The labels on an agent's instance: the hub's cost labels, with the owner as
 * a hash, the billing group, and managed-by so a sweep can find what the plane
 * made. `plane` and `agent` carry the names for listing by plane.
 */
export function instanceLabels(input: { plane: string; agent: string; owner: string; costLabels: Record<string, string> }): Record<string, string> {
  // The cost labels carry the owner (label-safe); hashing that form gives the same label on create and on change.
  const { owner, ...rest } = input.costLabels;
  return {
    ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [labelSafe(k), labelSafe(v)])),
    plane: labelSafe(input.plane),
    agent: labelSafe(input.agent),
    owner: ownerLabel(owner ?? labelSafe(input.owner)),
    'managed-by': 'agents-plane',
  };
}

/** Per network, shared by the planes on it. */
export function firewallNames(network: string): { allowIapSsh: string; denyAgentToAgent: string } {
  const base = network.split('/').at(-1) ?? network;
  const short = base.length > 40 ? `${base.slice(0, 31)}-${sha(base).slice(0, 8)}` : base;
  return { allowIapSsh: `ap-${short}-allow-iap-ssh`, denyAgentToAgent: `ap-${short}-deny-agent-to-agent` };
}

/** A stable id for an insert: the same agent and generation give the same id, so a retried insert never makes two VMs. */
export function insertRequestId(agentId: string, generation: string): string {
  const h = sha(`${agentId}/${generation}`);
  // A UUID shape, which Compute requires of requestId.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const AGENT_TAG = 'ap-agent';
export const IAP_RANGE = '35.235.240.0/20';
export const DEFAULT_IMAGE_FAMILY = 'agents-plane-agentd';
