// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface HelloAck {
  'heartbeatIntervalMs'?: (number);
  'hubVersion'?: (string);
  'serverTimeMs'?: (number | string | Long);
  'sessionId'?: (string);
}

export interface HelloAck__Output {
  'heartbeatIntervalMs': (number);
  'hubVersion': (string);
  'serverTimeMs': (number);
  'sessionId': (string);
}
