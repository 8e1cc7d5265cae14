import type { GcpCalls } from './gcp-calls.ts';
import { gcpReason, isNotFound } from './gcp-errors.ts';
import { type Grant, type IamPolicy, addGrant, readModifyWrite, removeGrant } from './iam-policy.ts';
import type { ServiceAccounts } from './service-accounts.ts';

/** Where an agent's owner gets in: its instance (by name, in a zone) and the service account the instance runs as. */
export interface OwnerTarget {
  project: string;
  zone: string;
  instance: string;
  serviceAccountEmail: string;
  plane: string;
  agent: string;
}

export type AccessAudit = (event: { action: 'gcp.access.grant' | 'gcp.access.revoke'; plane: string; agent: string; outcome: 'ok' | 'failed'; detail: Record<string, unknown> }) => void;

export const ROLES = {
  tunnel: 'roles/iap.tunnelResourceAccessor',
  osLogin: 'roles/compute.osLogin',
  saUser: 'roles/iam.serviceAccountUser',
} as const;

/** IAP's condition for SSH only: the tunnel opens to port 22 and nothing else. */
export const SSH_ONLY = { title: 'agents-plane owner ssh', description: 'IAP TCP forwarding to port 22 only', expression: 'destination.port == 22' };

export const iapTunnelResource = (t: Pick<OwnerTarget, 'project' | 'zone' | 'instance'>): string => `projects/${t.project}/iap_tunnel/zones/${t.zone}/instances/${t.instance}`;

/**
 * The proposal's "IAP tunnel scoped to the owner only": three bindings for the
 * owner and nobody else the plane adds, each an etag-guarded read-modify-write
 * that leaves other members' bindings alone, each audited.
 *
 * - `roles/iap.tunnelResourceAccessor` on the IAP tunnel instance resource, conditioned on port 22 (policy v3);
 * - `roles/compute.osLogin` on the instance (OS Login, not osAdminLogin: no sudo);
 * - `roles/iam.serviceAccountUser` on the agent's service account, which OS Login
 *   requires for a VM that runs as a service account.
 */
export class OwnerAccess {
  readonly #calls: GcpCalls;
  readonly #accounts: ServiceAccounts;
  readonly #audit: AccessAudit;

  constructor(calls: GcpCalls, accounts: ServiceAccounts, audit: AccessAudit) {
    this.#calls = calls;
    this.#accounts = accounts;
    this.#audit = audit;
  }

  #bindings(t: OwnerTarget, owner: string): Array<{ where: string; grant: Grant; io: { get: () => Promise<IamPolicy>; set: (p: IamPolicy) => Promise<unknown> } }> {
    const member = `user:${owner}`;
    const c = this.#calls;
    const tunnel = iapTunnelResource(t);
    return [
      {
        where: tunnel,
        grant: { role: ROLES.tunnel, member, condition: SSH_ONLY },
        io: {
          get: () => c.run('iap.getIamPolicy', () => c.clients.rest.call<IamPolicy>('iap', `v1/${tunnel}:getIamPolicy`, { body: { options: { requestedPolicyVersion: 3 } } })),
          set: (policy) => c.run('iap.setIamPolicy', () => c.clients.rest.call('iap', `v1/${tunnel}:setIamPolicy`, { body: { policy } })),
        },
      },
      {
        where: `projects/${t.project}/zones/${t.zone}/instances/${t.instance}`,
        grant: { role: ROLES.osLogin, member },
        io: {
          get: async () =>
            (await c.run('instances.getIamPolicy', () => c.clients.instances.getIamPolicy({ project: t.project, zone: t.zone, resource: t.instance, optionsRequestedPolicyVersion: 3 }, c.call)))[0] as IamPolicy,
          set: (policy) =>
            c.run('instances.setIamPolicy', () =>
              c.clients.instances.setIamPolicy({ project: t.project, zone: t.zone, resource: t.instance, zoneSetPolicyRequestResource: { policy: policy as never } }, c.call),
            ),
        },
      },
      {
        where: `projects/${t.project}/serviceAccounts/${t.serviceAccountEmail}`,
        grant: { role: ROLES.saUser, member },
        io: this.#accounts.policyIo(t.project, t.serviceAccountEmail),
      },
    ];
  }

  /** Grants the owner all three; stops at the first failure (the caller cleans up). */
  async grant(t: OwnerTarget, owner: string): Promise<void> {
    for (const b of this.#bindings(t, owner)) {
      try {
        const changed = await readModifyWrite(b.io, (p) => addGrant(p, b.grant), b.where);
        this.#audit({ action: 'gcp.access.grant', plane: t.plane, agent: t.agent, outcome: 'ok', detail: { owner, role: b.grant.role, resource: b.where, changed } });
      } catch (err) {
        this.#audit({ action: 'gcp.access.grant', plane: t.plane, agent: t.agent, outcome: 'failed', detail: { owner, role: b.grant.role, resource: b.where, reason: gcpReason(err) } });
        throw err;
      }
    }
  }

  /**
   * Revokes all three for this owner. A resource that is gone already (the
   * instance deleted first) has nothing left to revoke. Tries every binding,
   * then throws the first failure.
   */
  async revoke(t: OwnerTarget, owner: string): Promise<void> {
    let first: Error | undefined;
    for (const b of this.#bindings(t, owner)) {
      try {
        const changed = await readModifyWrite(b.io, (p) => removeGrant(p, b.grant), b.where);
        this.#audit({ action: 'gcp.access.revoke', plane: t.plane, agent: t.agent, outcome: 'ok', detail: { owner, role: b.grant.role, resource: b.where, changed } });
      } catch (err) {
        if (isNotFound(err)) {
          this.#audit({ action: 'gcp.access.revoke', plane: t.plane, agent: t.agent, outcome: 'ok', detail: { owner, role: b.grant.role, resource: b.where, changed: false, note: 'resource gone' } });
          continue;
        }
        this.#audit({ action: 'gcp.access.revoke', plane: t.plane, agent: t.agent, outcome: 'failed', detail: { owner, role: b.grant.role, resource: b.where, reason: gcpReason(err) } });
        first ??= err instanceof Error ? err : new Error(String(err));
      }
    }
    if (first !== undefined) throw first;
  }
}
