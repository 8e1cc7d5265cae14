// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Lets the agent notice a dead hub (or a silent network) within a few
 * intervals instead of a TCP timeout: no ack for 3 intervals -> reconnect.
 */
export interface HeartbeatAck {
  'seq'?: (number | string | Long);
  'serverTimeMs'?: (number | string | Long);
}

/**
 * Lets the agent notice a dead hub (or a silent network) within a few
 * intervals instead of a TCP timeout: no ack for 3 intervals -> reconnect.
 */
export interface HeartbeatAck__Output {
  'seq': (number);
  'serverTimeMs': (number);
}
