// Original file: proto/agentplane/v1/agentplane.proto

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
}
