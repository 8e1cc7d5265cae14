// Original file: proto/agentplane/v1/agentplane.proto

import type { CommandStatus as _agentplane_v1_CommandStatus, CommandStatus__Output as _agentplane_v1_CommandStatus__Output } from '../../agentplane/v1/CommandStatus.ts';
import type { Long } from '@grpc/proto-loader';

export interface CommandResult {
  'commandId'?: (string);
  'status'?: (_agentplane_v1_CommandStatus);
  /**
   * JSON value on success.
   */
  'outputJson'?: (string);
  'errorCode'?: (string);
  'errorMessage'?: (string);
  'startedAtMs'?: (number | string | Long);
  'finishedAtMs'?: (number | string | Long);
}

export interface CommandResult__Output {
  'commandId': (string);
  'status': (_agentplane_v1_CommandStatus__Output);
  /**
   * JSON value on success.
   */
  'outputJson': (string);
  'errorCode': (string);
  'errorMessage': (string);
  'startedAtMs': (number);
  'finishedAtMs': (number);
}
