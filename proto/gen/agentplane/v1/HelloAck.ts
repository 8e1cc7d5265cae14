// Original file: proto/agentplane/v1/agentplane.proto

import type { BrainGrant as _agentplane_v1_BrainGrant, BrainGrant__Output as _agentplane_v1_BrainGrant__Output } from '../../agentplane/v1/BrainGrant.ts';
import type { SecretManifest as _agentplane_v1_SecretManifest, SecretManifest__Output as _agentplane_v1_SecretManifest__Output } from '../../agentplane/v1/SecretManifest.ts';
import type { Long } from '@grpc/proto-loader';

export interface HelloAck {
  'heartbeatIntervalMs'?: (number);
  'hubVersion'?: (string);
  'serverTimeMs'?: (number | string | Long);
  'sessionId'?: (string);
  /**
   * The agent's current desired spec (JSON); agentd keeps the last one it saw
   * and uses it when it starts without the hub.
   */
  'agentSpecJson'?: (string);
  /**
   * Where the brain lives and the writer lease for this boot.
   */
  'brain'?: (_agentplane_v1_BrainGrant | null);
  /**
   * Names and versions of the secrets in the agent's namespace: never values.
   */
  'secrets'?: (_agentplane_v1_SecretManifest | null);
}

export interface HelloAck__Output {
  'heartbeatIntervalMs': (number);
  'hubVersion': (string);
  'serverTimeMs': (number);
  'sessionId': (string);
  /**
   * The agent's current desired spec (JSON); agentd keeps the last one it saw
   * and uses it when it starts without the hub.
   */
  'agentSpecJson': (string);
  /**
   * Where the brain lives and the writer lease for this boot.
   */
  'brain': (_agentplane_v1_BrainGrant__Output | null);
  /**
   * Names and versions of the secrets in the agent's namespace: never values.
   */
  'secrets': (_agentplane_v1_SecretManifest__Output | null);
}
