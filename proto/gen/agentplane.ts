import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentMessage as _agentplane_v1_AgentMessage, AgentMessage__Output as _agentplane_v1_AgentMessage__Output } from './agentplane/v1/AgentMessage.ts';
import type { AgentPlaneClient as _agentplane_v1_AgentPlaneClient, AgentPlaneDefinition as _agentplane_v1_AgentPlaneDefinition } from './agentplane/v1/AgentPlane.ts';
import type { BrainGrant as _agentplane_v1_BrainGrant, BrainGrant__Output as _agentplane_v1_BrainGrant__Output } from './agentplane/v1/BrainGrant.ts';
import type { Command as _agentplane_v1_Command, Command__Output as _agentplane_v1_Command__Output } from './agentplane/v1/Command.ts';
import type { CommandLedger as _agentplane_v1_CommandLedger, CommandLedger__Output as _agentplane_v1_CommandLedger__Output } from './agentplane/v1/CommandLedger.ts';
import type { CommandResult as _agentplane_v1_CommandResult, CommandResult__Output as _agentplane_v1_CommandResult__Output } from './agentplane/v1/CommandResult.ts';
import type { EnrollRequest as _agentplane_v1_EnrollRequest, EnrollRequest__Output as _agentplane_v1_EnrollRequest__Output } from './agentplane/v1/EnrollRequest.ts';
import type { EnrollResponse as _agentplane_v1_EnrollResponse, EnrollResponse__Output as _agentplane_v1_EnrollResponse__Output } from './agentplane/v1/EnrollResponse.ts';
import type { Event as _agentplane_v1_Event, Event__Output as _agentplane_v1_Event__Output } from './agentplane/v1/Event.ts';
import type { GatewayStatus as _agentplane_v1_GatewayStatus, GatewayStatus__Output as _agentplane_v1_GatewayStatus__Output } from './agentplane/v1/GatewayStatus.ts';
import type { Heartbeat as _agentplane_v1_Heartbeat, Heartbeat__Output as _agentplane_v1_Heartbeat__Output } from './agentplane/v1/Heartbeat.ts';
import type { HeartbeatAck as _agentplane_v1_HeartbeatAck, HeartbeatAck__Output as _agentplane_v1_HeartbeatAck__Output } from './agentplane/v1/HeartbeatAck.ts';
import type { Hello as _agentplane_v1_Hello, Hello__Output as _agentplane_v1_Hello__Output } from './agentplane/v1/Hello.ts';
import type { HelloAck as _agentplane_v1_HelloAck, HelloAck__Output as _agentplane_v1_HelloAck__Output } from './agentplane/v1/HelloAck.ts';
import type { HubMessage as _agentplane_v1_HubMessage, HubMessage__Output as _agentplane_v1_HubMessage__Output } from './agentplane/v1/HubMessage.ts';
import type { LogChunk as _agentplane_v1_LogChunk, LogChunk__Output as _agentplane_v1_LogChunk__Output } from './agentplane/v1/LogChunk.ts';
import type { LogLine as _agentplane_v1_LogLine, LogLine__Output as _agentplane_v1_LogLine__Output } from './agentplane/v1/LogLine.ts';
import type { ModelUsage as _agentplane_v1_ModelUsage, ModelUsage__Output as _agentplane_v1_ModelUsage__Output } from './agentplane/v1/ModelUsage.ts';
import type { ResourceUsage as _agentplane_v1_ResourceUsage, ResourceUsage__Output as _agentplane_v1_ResourceUsage__Output } from './agentplane/v1/ResourceUsage.ts';
import type { SecretEntry as _agentplane_v1_SecretEntry, SecretEntry__Output as _agentplane_v1_SecretEntry__Output } from './agentplane/v1/SecretEntry.ts';
import type { SecretManifest as _agentplane_v1_SecretManifest, SecretManifest__Output as _agentplane_v1_SecretManifest__Output } from './agentplane/v1/SecretManifest.ts';
import type { SecretRequest as _agentplane_v1_SecretRequest, SecretRequest__Output as _agentplane_v1_SecretRequest__Output } from './agentplane/v1/SecretRequest.ts';
import type { SecretResponse as _agentplane_v1_SecretResponse, SecretResponse__Output as _agentplane_v1_SecretResponse__Output } from './agentplane/v1/SecretResponse.ts';
import type { SyncStatus as _agentplane_v1_SyncStatus, SyncStatus__Output as _agentplane_v1_SyncStatus__Output } from './agentplane/v1/SyncStatus.ts';
import type { TokenUsage as _agentplane_v1_TokenUsage, TokenUsage__Output as _agentplane_v1_TokenUsage__Output } from './agentplane/v1/TokenUsage.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  agentplane: {
    v1: {
      AgentMessage: MessageTypeDefinition<_agentplane_v1_AgentMessage, _agentplane_v1_AgentMessage__Output>
      AgentPlane: SubtypeConstructor<typeof grpc.Client, _agentplane_v1_AgentPlaneClient> & { service: _agentplane_v1_AgentPlaneDefinition }
      BrainGrant: MessageTypeDefinition<_agentplane_v1_BrainGrant, _agentplane_v1_BrainGrant__Output>
      Command: MessageTypeDefinition<_agentplane_v1_Command, _agentplane_v1_Command__Output>
      CommandLedger: MessageTypeDefinition<_agentplane_v1_CommandLedger, _agentplane_v1_CommandLedger__Output>
      CommandResult: MessageTypeDefinition<_agentplane_v1_CommandResult, _agentplane_v1_CommandResult__Output>
      CommandStatus: EnumTypeDefinition
      EnrollRequest: MessageTypeDefinition<_agentplane_v1_EnrollRequest, _agentplane_v1_EnrollRequest__Output>
      EnrollResponse: MessageTypeDefinition<_agentplane_v1_EnrollResponse, _agentplane_v1_EnrollResponse__Output>
      Event: MessageTypeDefinition<_agentplane_v1_Event, _agentplane_v1_Event__Output>
      GatewayState: EnumTypeDefinition
      GatewayStatus: MessageTypeDefinition<_agentplane_v1_GatewayStatus, _agentplane_v1_GatewayStatus__Output>
      Heartbeat: MessageTypeDefinition<_agentplane_v1_Heartbeat, _agentplane_v1_Heartbeat__Output>
      HeartbeatAck: MessageTypeDefinition<_agentplane_v1_HeartbeatAck, _agentplane_v1_HeartbeatAck__Output>
      Hello: MessageTypeDefinition<_agentplane_v1_Hello, _agentplane_v1_Hello__Output>
      HelloAck: MessageTypeDefinition<_agentplane_v1_HelloAck, _agentplane_v1_HelloAck__Output>
      HubMessage: MessageTypeDefinition<_agentplane_v1_HubMessage, _agentplane_v1_HubMessage__Output>
      LogChunk: MessageTypeDefinition<_agentplane_v1_LogChunk, _agentplane_v1_LogChunk__Output>
      LogLine: MessageTypeDefinition<_agentplane_v1_LogLine, _agentplane_v1_LogLine__Output>
      ModelUsage: MessageTypeDefinition<_agentplane_v1_ModelUsage, _agentplane_v1_ModelUsage__Output>
      ResourceUsage: MessageTypeDefinition<_agentplane_v1_ResourceUsage, _agentplane_v1_ResourceUsage__Output>
      SecretEntry: MessageTypeDefinition<_agentplane_v1_SecretEntry, _agentplane_v1_SecretEntry__Output>
      SecretManifest: MessageTypeDefinition<_agentplane_v1_SecretManifest, _agentplane_v1_SecretManifest__Output>
      SecretRequest: MessageTypeDefinition<_agentplane_v1_SecretRequest, _agentplane_v1_SecretRequest__Output>
      SecretResponse: MessageTypeDefinition<_agentplane_v1_SecretResponse, _agentplane_v1_SecretResponse__Output>
      SyncStatus: MessageTypeDefinition<_agentplane_v1_SyncStatus, _agentplane_v1_SyncStatus__Output>
      TokenUsage: MessageTypeDefinition<_agentplane_v1_TokenUsage, _agentplane_v1_TokenUsage__Output>
    }
  }
}

