import { randomUUID } from 'node:crypto';
import { ErrorCode, PlaneError } from '../../../../common/src/errors.ts';
import type { Logger } from '../../../../common/src/logger.ts';
import type { GcpCalls } from './gcp-calls.ts';
import { gcpReason, isAlreadyExists, isNotFound, toPlaneError } from './gcp-errors.ts';
import { DEFAULT_IMAGE_FAMILY, insertRequestId } from './gcp-names.ts';
import type { GcpPlaneRef } from './gcp-refs.ts';
import { type Instance, instanceResource } from './instance-resource.ts';
import { operationName } from './operations.ts';
import type { OwnerAccess, OwnerTarget } from './owner-access.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { SecretAccess } from './secret-access.ts';
import type { ServiceAccounts } from './service-accounts.ts';

export interface ProvisionParts {
  calls: GcpCalls;
  accounts: ServiceAccounts;
  access: OwnerAccess;
  secrets?: { access: SecretAccess; ids(plane: string, agent: string): Promise<string[]> } | undefined;
  insertLimiter: RateLimiter;
  log: Logger;
}

export interface ProvisionInput {
  agentId: string;
  plane: GcpPlaneRef;
  planeName: string;
  agent: string;
  owner: string;
  instance: string;
  accountId: string;
  machineType: string;
  diskSizeGb: number;
  spot: boolean;
  labels: Record<string, string>;
  hub: { address: string; caPem: string; audience?: string | undefined };
  startupScript?: string;
}

export function sourceImage(plane: GcpPlaneRef): string {
  return plane.image ?? `projects/${plane.project}/global/images/family/${DEFAULT_IMAGE_FAMILY}`;
}

/**
 * One agent's resources, in order: service account, per-secret access,
 * instance (insert with a requestId, waited to DONE), owner access. Whatever
 * this call created is removed again if a later step fails, so a provision
 * either completes or leaves nothing; the error is Google's reason in one
 * sentence (`gcp: quota CPUS exceeded in us-east4 (limit 24)`).
 */
export async function provisionAgent(parts: ProvisionParts, i: ProvisionInput): Promise<Instance> {
  const { calls: c, accounts, access } = parts;
  const { project, zone } = i.plane;
  const target: OwnerTarget = { project, zone, instance: i.instance, serviceAccountEmail: '', plane: i.planeName, agent: i.agent };
  const made = { account: false, secrets: [] as string[], instance: false, access: false };
  try {
    target.serviceAccountEmail = await accounts.ensure(project, i.accountId, `agent ${i.planeName}/${i.agent}`, `Agents Plane: the VM identity of agent ${i.agent} in plane ${i.planeName}; no project roles`);
    made.account = true;
    if (parts.secrets) {
      made.secrets = await parts.secrets.ids(i.planeName, i.agent);
      await parts.secrets.access.grant(made.secrets, target.serviceAccountEmail);
    }
    const body = instanceResource({
      project,
      zone,
      region: i.plane.region,
      name: i.instance,
      machineType: i.machineType,
      diskSizeGb: i.diskSizeGb,
      sourceImage: sourceImage(i.plane),
      network: i.plane.network,
      subnetwork: i.plane.subnetwork,
      serviceAccountEmail: target.serviceAccountEmail,
      labels: i.labels,
      spot: i.spot,
      bootstrap: { plane: i.planeName, agent: i.agent, hub: i.hub.address, caPem: i.hub.caPem, audience: i.hub.audience },
      startupScript: i.startupScript,
    });
    // One id for this provision: every retry of the insert carries it, so Google makes one VM however often we ask.
    const requestId = insertRequestId(i.agentId, randomUUID());
    let op: unknown;
    // Before the call: an insert whose answer was lost may still have made the VM.
    made.instance = true;
    try {
      op = await c.run('instances.insert', () => c.clients.instances.insert({ project, zone, instanceResource: body, requestId }, c.call), parts.insertLimiter);
    } catch (err) {
      if (isAlreadyExists(err)) {
        made.instance = false;
        throw new PlaneError(ErrorCode.AlreadyExists, `gcp: instance ${i.instance} already exists in ${zone}; it was not made by this provision, so it is left alone (delete it, or reprovision the agent)`, { cause: err });
      }
      throw err;
    }
    await c.wait({ project, zone, name: operationName(op) });
    made.access = true;
    await access.grant(target, i.owner);
    const [inst] = await c.run('instances.get', () => c.clients.instances.get({ project, zone, instance: i.instance }, c.call));
    parts.log.info('provisioned', { plane: i.planeName, agent: i.agent, instance: i.instance, zone, status: String(inst.status), spot: i.spot });
    return inst;
  } catch (err) {
    const failure = toPlaneError(err);
    parts.log.warn('provision failed; removing what it created', { plane: i.planeName, agent: i.agent, reason: gcpReason(err), made });
    await cleanUp(parts, i, target, made);
    throw new PlaneError(failure.code, gcpReason(err), { cause: err });
  }
}

/** Best effort, every step tried: a leftover is logged with what to delete by hand. */
async function cleanUp(parts: ProvisionParts, i: ProvisionInput, t: OwnerTarget, made: { account: boolean; secrets: string[]; instance: boolean; access: boolean }): Promise<void> {
  const { calls: c } = parts;
  const { project, zone } = i.plane;
  const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      if (!isNotFound(err)) parts.log.error('could not clean up after a failed provision; delete it by hand', { plane: i.planeName, agent: i.agent, what, reason: gcpReason(err) });
    }
  };
  if (made.access) await step('owner access', () => parts.access.revoke(t, i.owner));
  if (made.instance) {
    await step(`instance ${i.instance}`, async () => {
      const op = await c.run('instances.delete', () => c.clients.instances.delete({ project, zone, instance: i.instance }, c.call));
      await c.wait({ project, zone, name: operationName(op) });
    });
  }
  if (made.secrets.length > 0 && parts.secrets) await step('secret access', () => (parts.secrets as NonNullable<ProvisionParts['secrets']>).access.revoke(made.secrets, t.serviceAccountEmail));
  if (made.account && t.serviceAccountEmail) await step(`service account ${t.serviceAccountEmail}`, () => parts.accounts.delete(project, t.serviceAccountEmail));
}
