// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface EnrollResponse {
  'agentId'?: (string);
  'plane'?: (string);
  'agentName'?: (string);
  /**
   * Opaque bearer credential for Connect. Store it 0600; never log it.
   */
  'credential'?: (string);
  'issuedAtMs'?: (number | string | Long);
  /**
   * What the agent should run (model, tools, runtime settings), as JSON; see
   * common/src/agent-spec.ts. Also sent in every HelloAck.
   */
  'agentSpecJson'?: (string);
}

export interface EnrollResponse__Output {
  'agentId': (string);
  'plane': (string);
  'agentName': (string);
  /**
   * Opaque bearer credential for Connect. Store it 0600; never log it.
   */
  'credential': (string);
  'issuedAtMs': (number);
  /**
   * What the agent should run (model, tools, runtime settings), as JSON; see
   * common/src/agent-spec.ts. Also sent in every HelloAck.
   */
  'agentSpecJson': (string);
}
