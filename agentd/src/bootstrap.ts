import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { sleep } from '../../common/src/backoff.ts';
import { decodeBundle } from '../../common/src/enrollment-bundle.ts';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { isValidName } from '../../common/src/ids.ts';
import { defaultAudience } from '../../common/src/instance-identity.ts';
import type { Logger } from '../../common/src/logger.ts';
import { type AgentdConfig, type AgentdFileConfig, type BootstrapEnrollment, readAgentdConfigFile, parseAgentdFileConfig, withIdentity } from './config.ts';
import { GceMetadata, MetadataUnreachable } from './gce-metadata.ts';

/**
 * First boot from a golden image: who this agent is and how it enrols, read from
 * the instance metadata or, without a metadata server, from a local YAML file.
 *
 * | Metadata attribute        | File key     | Value |
 * | ------------------------- | ------------ | ----- |
 * | agents-plane-plane        | plane        | the plane's name |
 * | agents-plane-agent        | agent        | the agent's name |
 * | agents-plane-hub          | hub          | host:port of the hub's gRPC endpoint |
 * | agents-plane-hub-ca       | hub-ca       | PEM of the hub CA to pin |
 * | agents-plane-enrollment   | enrollment   | `instance-identity`, or an enrollment bundle (`apb1.…`) |
 * | agents-plane-audience     | audience     | optional; the identity token's audience, default `https://<hub>` |
 *
 * With a bundle, plane, agent, hub and CA come from the bundle (attributes given
 * beside it must agree). With `instance-identity`, plane, agent, hub and hub-ca are
 * required and nothing secret is in the metadata: agentd proves who it is with a
 * token Google signs for this instance. Without `enrollment`, plane and agent are
 * enough for an agent that is enrolled already.
 */
export const ATTRIBUTE_PREFIX = 'agents-plane-';
const KEYS = ['plane', 'agent', 'hub', 'hub-ca', 'enrollment', 'audience'] as const;
type Key = (typeof KEYS)[number];
export type BootstrapValues = Partial<Record<Key, string>>;

export const INSTANCE_IDENTITY = 'instance-identity';
const METADATA_ATTEMPTS = 3;

export interface ResolveOptions {
  log: Logger;
  metadata?: GceMetadata;
  /** Between metadata attempts; default 1 s. */
  retryDelayMs?: number;
}

/** Reads the config file and, if it has a bootstrap section, resolves it. */
export async function resolveAgentdConfig(file: string, options: ResolveOptions): Promise<AgentdConfig> {
  return resolveBootstrap(parseAgentdFileConfig(readAgentdConfigFile(file), file), options);
}

export async function resolveBootstrap(cfg: AgentdFileConfig, options: ResolveOptions): Promise<AgentdConfig> {
  if (!cfg.bootstrap) {
    if (cfg.plane === undefined || cfg.agent === undefined) throw new PlaneError(ErrorCode.InvalidArgument, 'config: plane and agent are required', { where: 'plane' });
    return withIdentity(cfg, cfg.plane, cfg.agent);
  }
  const { source, fallbackFile } = cfg.bootstrap;
  let values: BootstrapValues | undefined;
  let from = '';
  if (source === 'gce-metadata') {
    const metadata = options.metadata ?? new GceMetadata();
    const found = await readMetadata(metadata, options);
    if (found) {
      values = found;
      from = `instance metadata (${metadata.host})`;
    }
  }
  if (!values && fallbackFile && existsSync(fallbackFile)) {
    values = readBootstrapFile(fallbackFile);
    from = fallbackFile;
  }
  if (!values) {
    const where = [source === 'gce-metadata' ? `no ${ATTRIBUTE_PREFIX}* instance metadata` : '', fallbackFile ? `no file ${fallbackFile}` : 'no bootstrap.fallbackFile'].filter(Boolean).join(', ');
    throw new PlaneError(ErrorCode.FailedPrecondition, `bootstrap: nothing says which agent this is (${where})`, { where: 'bootstrap' });
  }
  const { plane, agent, enrollment } = interpret(values, from);
  options.log.info('bootstrap: identity resolved', { from, plane, agent, enrollment: enrollment?.kind ?? 'none (must be enrolled already)' });
  return withIdentity(cfg, plane, agent, enrollment);
}

/** The agents-plane-* attributes, or undefined when there is no metadata server or none of them is set. */
async function readMetadata(metadata: GceMetadata, options: ResolveOptions): Promise<BootstrapValues | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      const attrs = await metadata.attributes();
      const values: BootstrapValues = {};
      for (const k of KEYS) {
        const v = attrs[ATTRIBUTE_PREFIX + k];
        if (v !== undefined && v.trim() !== '') values[k] = v.trim();
      }
      return Object.keys(values).length > 0 ? values : undefined;
    } catch (err) {
      // Early in boot the metadata server may not answer yet; off Compute Engine it never will.
      if (!(err instanceof MetadataUnreachable) || attempt >= METADATA_ATTEMPTS) {
        if (err instanceof MetadataUnreachable) {
          options.log.info('bootstrap: no metadata server; trying the fallback file', { reason: err.message });
          return undefined;
        }
        throw err;
      }
      await sleep(options.retryDelayMs ?? 1000);
    }
  }
}

export function readBootstrapFile(file: string): BootstrapValues {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new PlaneError(ErrorCode.InvalidArgument, `${file}: cannot read bootstrap values: ${(cause as Error).message}`, { where: file, cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: must be a mapping`, { where: file });
  const values: BootstrapValues = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new PlaneError(ErrorCode.InvalidArgument, `${file}: ${k} is not a known key (${KEYS.join(', ')})`, { where: `${file}.${k}` });
    if (typeof v !== 'string') throw new PlaneError(ErrorCode.InvalidArgument, `${file}: ${k} must be a string`, { where: `${file}.${k}` });
    values[k as Key] = v.trim();
  }
  return values;
}

/** Checks the values and turns them into plane, agent and the enrolment to use. */
export function interpret(values: BootstrapValues, from: string): { plane: string; agent: string; enrollment?: BootstrapEnrollment } {
  const bad = (key: Key, message: string): PlaneError => new PlaneError(ErrorCode.InvalidArgument, `bootstrap (${from}): ${key} ${message}`, { where: `bootstrap.${key}` });
  let plane = values.plane;
  let agent = values.agent;
  let enrollment: BootstrapEnrollment | undefined;
  const e = values.enrollment;
  if (e !== undefined && e !== INSTANCE_IDENTITY) {
    if (!e.startsWith('apb1.')) throw bad('enrollment', `must be "${INSTANCE_IDENTITY}" or an enrollment bundle (apb1.…)`);
    const bundle = decodeBundle(e, `bootstrap (${from}): enrollment`);
    for (const [key, given, inBundle] of [['plane', plane, bundle.plane], ['agent', agent, bundle.agent], ['hub', values.hub, bundle.hub]] as const) {
      if (given !== undefined && given !== inBundle) throw bad(key, `is ${given}, but the enrollment bundle says ${inBundle}`);
    }
    plane = bundle.plane;
    agent = bundle.agent;
    enrollment = { kind: 'bundle', bundle: e, source: from };
  }
  if (plane === undefined) throw bad('plane', 'is missing');
  if (agent === undefined) throw bad('agent', 'is missing');
  if (!isValidName(plane)) throw bad('plane', `${JSON.stringify(plane)} is not a valid name`);
  if (!isValidName(agent)) throw bad('agent', `${JSON.stringify(agent)} is not a valid name`);
  if (e === INSTANCE_IDENTITY) {
    const hub = values.hub;
    const caPem = values['hub-ca'];
    if (!hub) throw bad('hub', `is required with enrollment ${INSTANCE_IDENTITY}`);
    if (!/^[^\s:/]+:\d+$/.test(hub)) throw bad('hub', `${JSON.stringify(hub)} is not host:port`);
    if (!caPem?.includes('-----BEGIN CERTIFICATE-----')) throw bad('hub-ca', `must be the PEM of the hub CA with enrollment ${INSTANCE_IDENTITY}`);
    enrollment = { kind: 'instance-identity', hub, caPem: `${caPem}\n`, audience: values.audience || defaultAudience(hub) };
  }
  return { plane, agent, ...(enrollment ? { enrollment } : {}) };
}
