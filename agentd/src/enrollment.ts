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

const ENROLL_DEADLINE_MS = 15_000;

/**
 * Returns the agent's long-lived credential, enrolling first if there is none:
 * the one-time bundle is read, exchanged over TLS pinned to the bundle's CA, the
 * credential is written 0600, and the bundle is deleted (it is spent anyway).
 */
export async function ensureEnrolled(cfg: AgentdConfig, bootId: string, version: string, log: Logger): Promise<{ credential: StoredCredential; agentSpecJson?: string }> {
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
  if (!cfg.enrollmentBundleFile || !existsSync(cfg.enrollmentBundleFile)) {
    throw new PlaneError(ErrorCode.FailedPrecondition, 'agent is not enrolled and no enrollment bundle was given (enrollmentBundleFile)', { where: 'enrollmentBundleFile' });
  }
  const bundle = decodeBundle(readFileSync(cfg.enrollmentBundleFile, 'utf8'), cfg.enrollmentBundleFile);
  if (bundle.plane !== cfg.plane || bundle.agent !== cfg.agent) {
    throw new PlaneError(ErrorCode.InvalidArgument, `enrollment bundle is for ${bundle.plane}/${bundle.agent}, config says ${cfg.plane}/${cfg.agent}`, { where: 'enrollmentBundleFile' });
  }
  const Client = loadContract().agentplane.v1.AgentPlane;
  const client = new Client(bundle.hub, grpc.credentials.createSsl(Buffer.from(bundle.caPem)), hubChannelOptions());
  try {
    const res = await new Promise<EnrollResponse__Output>((resolve, reject) =>
      client.Enroll(
        { enrollmentToken: bundle.token, plane: cfg.plane, agentName: cfg.agent, bootId, agentdVersion: version },
        { deadline: Date.now() + ENROLL_DEADLINE_MS },
        (err, value) => (err || !value ? reject(err ?? new Error('empty enrol response')) : resolve(value)),
      ),
    );
    const cred: StoredCredential = {
      agentId: res.agentId,
      plane: res.plane,
      agent: res.agentName,
      hub: bundle.hub,
      caPem: bundle.caPem,
      credential: res.credential,
      enrolledAt: Date.now(),
    };
    store.save(cred);
    rmSync(cfg.enrollmentBundleFile, { force: true });
    log.info('enrolled with the hub', { agentId: cred.agentId, hub: cred.hub });
    return { credential: cred, agentSpecJson: res.agentSpecJson };
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (e.code === grpc.status.UNAUTHENTICATED || e.code === grpc.status.PERMISSION_DENIED) {
      throw new PlaneError(ErrorCode.Unauthenticated, `the hub refused enrolment: ${e.details}`, { cause: err });
    }
    throw new PlaneError(ErrorCode.Unavailable, `cannot reach the hub at ${bundle.hub} to enrol: ${e.details ?? e.message}`, { cause: err });
  } finally {
    client.close();
  }
}
