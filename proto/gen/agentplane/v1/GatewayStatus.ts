// Original file: proto/agentplane/v1/agentplane.proto

import type { GatewayState as _agentplane_v1_GatewayState, GatewayState__Output as _agentplane_v1_GatewayState__Output } from '../../agentplane/v1/GatewayState.ts';
import type { Long } from '@grpc/proto-loader';

export interface GatewayStatus {
  'state'?: (_agentplane_v1_GatewayState);
  'ready'?: (boolean);
  /**
   * Failing readiness checks, as the runtime names them.
   */
  'failing'?: (string)[];
  /**
   * "openclaw", or "placeholder" when no real gateway is supervised.
   */
  'runtime'?: (string);
  'version'?: (string);
  'restartCount'?: (number);
  'lastError'?: (string);
  'eventLoopDelayMs'?: (number | string);
  'rssBytes'?: (number | string | Long);
  'degradedSecretOwners'?: (string)[];
  'pid'?: (number);
  'startedAtMs'?: (number | string | Long);
}

export interface GatewayStatus__Output {
  'state': (_agentplane_v1_GatewayState__Output);
  'ready': (boolean);
  /**
   * Failing readiness checks, as the runtime names them.
   */
  'failing': (string)[];
  /**
   * "openclaw", or "placeholder" when no real gateway is supervised.
   */
  'runtime': (string);
  'version': (string);
  'restartCount': (number);
  'lastError': (string);
  'eventLoopDelayMs': (number);
  'rssBytes': (number);
  'degradedSecretOwners': (string)[];
  'pid': (number);
  'startedAtMs': (number);
}
