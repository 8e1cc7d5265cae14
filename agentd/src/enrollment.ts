import * as grpc from '@grpc/grpc-js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { decodeBundle } from '../../common/src/enrollment-bundle.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { hubChannelOptions } from '../../common/src/hub-tls.ts';
import type { Logger } from '../../common/src/logger.ts';
import { loadContract } from '../../proto/index.ts';
import type { EnrollResponse__Output } from '../../proto/index.ts';
import type { AgentdConfig } from './config.ts';
import { CredentialStore, type StoredCredential } from './credential-store.ts';
import { GceMetadata } from './gce-metadata.ts';

const ENROLL_DEADLINE_MS = 15_000;

export interface EnrollDeps {
  /** For instance-identity enrolment; default a GceMetadata client (GCE_METADATA_HOST or the real server). */
  metadata?: GceMetadata;
}

/** How this agent proves itself at enrolment, and the hub it enrols with. */
interface Proof {
  hub: string;
  caPem: string;
  /** Fetched at each attempt: an identity token is fresh for every call. */
  request: () => Promise<{ enrollmentToken: string } | { instanceIdentityToken: string }>;
  /** Called after success (deletes a spent bundle file). */
  spent: () => void;
  method: 'enrollment-token' | 'instance-identity';
}

function proofFor(cfg: AgentdConfig, deps: EnrollDeps): Proof {
  const e = cfg.enrollment;
  if (e?.kind === 'instance-identity') {
    const metadata = deps.metadata ?? new GceMetadata();
    return {
      hub: e.hub,
      caPem: e.caPem,
      request: async () => ({ instanceIdentityToken: await metadata.identityToken(e.audience) }),
      spent: () => undefined,
      method: 'instance-identity',
    };
  }
  let text: string;
  let where: string;
  let file: string | undefined;
  if (e?.kind === 'bundle') {
    text = e.bundle;
    where = `enrollment bundle from ${e.source}`;
  } else {
    if (!cfg.enrollmentBundleFile || !existsSync(cfg.enrollmentBundleFile)) {
      throw new PlaneError(ErrorCode.FailedPrecondition, 'agent is not enrolled and has no enrolment material (enrollmentBundleFile, or agents-plane-enrollment in the bootstrap)', { where: 'enrollmentBundleFile' });
    }
    file = cfg.enrollmentBundleFile;
    text = readFileSync(file, 'utf8');
    where = file;
  }
  const bundle = decodeBundle(text, where);
  if (bundle.plane !== cfg.plane || bundle.agent !== cfg.agent) {
    throw new PlaneError(ErrorCode.InvalidArgument, `enrollment bundle is for ${bundle.plane}/${bundle.agent}, config says ${cfg.plane}/${cfg.agent}`, { where: 'enrollmentBundleFile' });
  }
  return {
    hub: bundle.hub,
    caPem: bundle.caPem,
    request: async () => ({ enrollmentToken: bundle.token }),
    spent: () => (file ? rmSync(file, { force: true }) : undefined),
    method: 'enrollment-token',
  };
}

/**
 * Returns the agent's long-lived credential, enrolling first if there is none.
 * The proof is the one-time token of an enrollment bundle (a file, or from the
 * bootstrap), or on Compute Engine an instance identity token from the metadata
 * server. The exchange runs over TLS pinned to the hub CA, the credential is
 * written 0600, and a bundle file is deleted (it is spent anyway).
 */
export async function ensureEnrolled(
  cfg: AgentdConfig,
  bootId: string,
  version: string,
  log: Logger,
  deps: EnrollDeps = {},
): Promise<{ credential: StoredCredential; agentSpecJson?: string }> {
  const store = new CredentialStore(cfg.stateDir);
  const existing = store.load();
  if (existing) {
    if (existing.plane !== cfg.plane || existing.agent !== cfg.agent) {
      throw new PlaneError(
        ErrorCode.FailedPrecondition,
        `state dir ${cfg.stateDir} holds the credential of ${existing.plane}/${existing.agent}, but the config says ${cfg.plane}/${cfg.agent}`,
        { where: 'stateDir' },
      );
    }
    return { credential: existing };
  }
  const proof = proofFor(cfg, deps);
  const Client = loadContract().agentplane.v1.AgentPlane;
  const client = new Client(proof.hub, grpc.credentials.createSsl(Buffer.from(proof.caPem)), hubChannelOptions());
  try {
    const proofFields = await proof.request();
    const res = await new Promise<EnrollResponse__Output>((resolve, reject) =>
      client.Enroll(
        { ...proofFields, plane: cfg.plane, agentName: cfg.agent, bootId, agentdVersion: version },
        { deadline: Date.now() + ENROLL_DEADLINE_MS },
        (err, value) => (err || !value ? reject(err ?? new Error('empty enrol response')) : resolve(value)),
      ),
    );
    const cred: StoredCredential = {
      agentId: res.agentId,
      plane: res.plane,
      agent: res.agentName,
      hub: proof.hub,
      caPem: proof.caPem,
      credential: res.credential,
      enrolledAt: Date.now(),
    };
    store.save(cred);
    proof.spent();
    log.info('enrolled with the hub', { agentId: cred.agentId, hub: cred.hub, method: proof.method });
    return { credential: cred, agentSpecJson: res.agentSpecJson };
  } catch (err) {
    if (err instanceof PlaneError) throw err;
    const e = err as grpc.ServiceError;
    if (e.code === grpc.status.UNAUTHENTICATED || e.code === grpc.status.PERMISSION_DENIED) {
      throw new PlaneError(ErrorCode.Unauthenticated, `the hub refused enrolment: ${e.details}`, { cause: err });
    }
    // Too many failed claims with this token lately: retried (with backoff) until the hub takes it again.
    if (e.code === grpc.status.RESOURCE_EXHAUSTED) throw new PlaneError(ErrorCode.Unavailable, `the hub refuses this enrolment token for now: ${e.details}`, { cause: err });
    throw new PlaneError(ErrorCode.Unavailable, `cannot reach the hub at ${proof.hub} to enrol: ${e.details ?? e.message}`, { cause: err });
  } finally {
    client.close();
  }
}
