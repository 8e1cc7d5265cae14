import * as grpc from '@grpc/grpc-js';
import { v1 } from '@google-cloud/secret-manager';
import type { GcpCalls } from './gcp-calls.ts';
import { isNotFound } from './gcp-errors.ts';
import { addGrant, type IamPolicy, readModifyWrite, removeGrant } from './iam-policy.ts';

export const SECRET_ACCESSOR = 'roles/secretmanager.secretAccessor';

export interface SecretAccessOptions {
  /** The project that holds the secrets (the hub's gcp-secret-manager:PROJECT). */
  project: string;
  /** Tests only: a Secret Manager stand-in on loopback, host:port, plain gRPC. */
  apiEndpoint?: string | undefined;
}

/**
 * `roles/secretmanager.secretAccessor` for the agent's service account on each
 * of its own secrets, bound per secret (the lowest resource the role can be
 * granted on), so no project policy grows and no condition is needed. The
 * hub reads for agents today; the binding is there for the day agentd reads
 * directly. A secret deleted takes its bindings with it.
 */
export class SecretAccess {
  readonly project: string;
  readonly #client: v1.SecretManagerServiceClient;
  readonly #calls: GcpCalls;

  constructor(calls: GcpCalls, options: SecretAccessOptions) {
    this.project = options.project;
    this.#calls = calls;
    const [host, port] = (options.apiEndpoint ?? '').split(':');
    this.#client = new v1.SecretManagerServiceClient(
      options.apiEndpoint ? { apiEndpoint: host, port: Number(port), sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' } : {},
    );
  }

  #io(secretId: string): { get: () => Promise<IamPolicy>; set: (p: IamPolicy) => Promise<unknown> } {
    const resource = `projects/${this.project}/secrets/${secretId}`;
    const c = this.#calls;
    return {
      get: async () => (await c.run('secretmanager.getIamPolicy', () => this.#client.getIamPolicy({ resource, options: { requestedPolicyVersion: 3 } }, c.call)))[0] as IamPolicy,
      set: (policy) => c.run('secretmanager.setIamPolicy', () => this.#client.setIamPolicy({ resource, policy: policy as never }, c.call)),
    };
  }

  /** Binds the account on each secret; a secret deleted meanwhile is skipped. Returns how many changed. */
  async grant(secretIds: readonly string[], serviceAccountEmail: string): Promise<number> {
    const grant = { role: SECRET_ACCESSOR, member: `serviceAccount:${serviceAccountEmail}` };
    let changed = 0;
    for (const id of secretIds) {
      try {
        if (await readModifyWrite(this.#io(id), (p) => addGrant(p, grant), `secret ${id}`)) changed++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return changed;
  }

  async revoke(secretIds: readonly string[], serviceAccountEmail: string): Promise<void> {
    const grant = { role: SECRET_ACCESSOR, member: `serviceAccount:${serviceAccountEmail}` };
    for (const id of secretIds) {
      try {
        await readModifyWrite(this.#io(id), (p) => removeGrant(p, grant), `secret ${id}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
