// Original file: proto/agentplane/v1/agentplane.proto

import type { HelloAck as _agentplane_v1_HelloAck, HelloAck__Output as _agentplane_v1_HelloAck__Output } from '../../agentplane/v1/HelloAck.ts';
import type { Command as _agentplane_v1_Command, Command__Output as _agentplane_v1_Command__Output } from '../../agentplane/v1/Command.ts';
import type { HeartbeatAck as _agentplane_v1_HeartbeatAck, HeartbeatAck__Output as _agentplane_v1_HeartbeatAck__Output } from '../../agentplane/v1/HeartbeatAck.ts';
import type { SecretResponse as _agentplane_v1_SecretResponse, SecretResponse__Output as _agentplane_v1_SecretResponse__Output } from '../../agentplane/v1/SecretResponse.ts';

export interface HubMessage {
  'helloAck'?: (_agentplane_v1_HelloAck | null);
  'command'?: (_agentplane_v1_Command | null);
  'heartbeatAck'?: (_agentplane_v1_HeartbeatAck | null);
  'secretResponse'?: (_agentplane_v1_SecretResponse | null);
  'body'?: "helloAck"|"command"|"heartbeatAck"|"secretResponse";
}

export interface HubMessage__Output {
  'helloAck'?: (_agentplane_v1_HelloAck__Output | null);
  'command'?: (_agentplane_v1_Command__Output | null);
  'heartbeatAck'?: (_agentplane_v1_HeartbeatAck__Output | null);
  'secretResponse'?: (_agentplane_v1_SecretResponse__Output | null);
  'body'?: "helloAck"|"command"|"heartbeatAck"|"secretResponse";
}
