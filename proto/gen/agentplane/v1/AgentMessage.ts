// Original file: proto/agentplane/v1/agentplane.proto

import type { Hello as _agentplane_v1_Hello, Hello__Output as _agentplane_v1_Hello__Output } from '../../agentplane/v1/Hello.ts';
import type { Heartbeat as _agentplane_v1_Heartbeat, Heartbeat__Output as _agentplane_v1_Heartbeat__Output } from '../../agentplane/v1/Heartbeat.ts';
import type { CommandResult as _agentplane_v1_CommandResult, CommandResult__Output as _agentplane_v1_CommandResult__Output } from '../../agentplane/v1/CommandResult.ts';
import type { LogChunk as _agentplane_v1_LogChunk, LogChunk__Output as _agentplane_v1_LogChunk__Output } from '../../agentplane/v1/LogChunk.ts';
import type { Event as _agentplane_v1_Event, Event__Output as _agentplane_v1_Event__Output } from '../../agentplane/v1/Event.ts';
import type { SecretRequest as _agentplane_v1_SecretRequest, SecretRequest__Output as _agentplane_v1_SecretRequest__Output } from '../../agentplane/v1/SecretRequest.ts';

export interface AgentMessage {
  'hello'?: (_agentplane_v1_Hello | null);
  'heartbeat'?: (_agentplane_v1_Heartbeat | null);
  'commandResult'?: (_agentplane_v1_CommandResult | null);
  'logChunk'?: (_agentplane_v1_LogChunk | null);
  'event'?: (_agentplane_v1_Event | null);
  'secretRequest'?: (_agentplane_v1_SecretRequest | null);
  'body'?: "hello"|"heartbeat"|"commandResult"|"logChunk"|"event"|"secretRequest";
}

export interface AgentMessage__Output {
  'hello'?: (_agentplane_v1_Hello__Output | null);
  'heartbeat'?: (_agentplane_v1_Heartbeat__Output | null);
  'commandResult'?: (_agentplane_v1_CommandResult__Output | null);
  'logChunk'?: (_agentplane_v1_LogChunk__Output | null);
  'event'?: (_agentplane_v1_Event__Output | null);
  'secretRequest'?: (_agentplane_v1_SecretRequest__Output | null);
  'body'?: "hello"|"heartbeat"|"commandResult"|"logChunk"|"event"|"secretRequest";
}
