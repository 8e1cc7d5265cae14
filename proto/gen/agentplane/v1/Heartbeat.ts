// Original file: proto/agentplane/v1/agentplane.proto

import type { GatewayStatus as _agentplane_v1_GatewayStatus, GatewayStatus__Output as _agentplane_v1_GatewayStatus__Output } from '../../agentplane/v1/GatewayStatus.ts';
import type { ResourceUsage as _agentplane_v1_ResourceUsage, ResourceUsage__Output as _agentplane_v1_ResourceUsage__Output } from '../../agentplane/v1/ResourceUsage.ts';
import type { SyncStatus as _agentplane_v1_SyncStatus, SyncStatus__Output as _agentplane_v1_SyncStatus__Output } from '../../agentplane/v1/SyncStatus.ts';
import type { TokenUsage as _agentplane_v1_TokenUsage, TokenUsage__Output as _agentplane_v1_TokenUsage__Output } from '../../agentplane/v1/TokenUsage.ts';
import type { Long } from '@grpc/proto-loader';

export interface Heartbeat {
  'seq'?: (number | string | Long);
  'sentAtMs'?: (number | string | Long);
  'gateway'?: (_agentplane_v1_GatewayStatus | null);
  'resources'?: (_agentplane_v1_ResourceUsage | null);
  'sync'?: (_agentplane_v1_SyncStatus | null);
  /**
   * SecretManifest.revision of the secrets agentd has loaded; empty before the first load.
   */
  'secretsVersion'?: (string);
  'usage'?: (_agentplane_v1_TokenUsage | null);
  'paused'?: (boolean);
}

export interface Heartbeat__Output {
  'seq': (number);
  'sentAtMs': (number);
  'gateway': (_agentplane_v1_GatewayStatus__Output | null);
  'resources': (_agentplane_v1_ResourceUsage__Output | null);
  'sync': (_agentplane_v1_SyncStatus__Output | null);
  /**
   * SecretManifest.revision of the secrets agentd has loaded; empty before the first load.
   */
  'secretsVersion': (string);
  'usage': (_agentplane_v1_TokenUsage__Output | null);
  'paused': (boolean);
}
