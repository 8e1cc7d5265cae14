/**
 * Loads the contract at run time with @grpc/proto-loader. The options here must
 * match the flags in scripts/gen-proto.mjs so that the generated types in
 * proto/gen describe exactly the objects grpc-js hands us.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './gen/agentplane.ts';

export const PROTO_ROOT = fileURLToPath(new URL('.', import.meta.url).href.replace(/\/dist\/proto\/$/, '/proto/'));

let cached: ProtoGrpcType | undefined;

export function loadContract(): ProtoGrpcType {
  if (cached) return cached;
  const definition = protoLoader.loadSync('agentplane/v1/agentplane.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return cached;
}

export type { AgentMessage, AgentMessage__Output } from './gen/agentplane/v1/AgentMessage.ts';
export type { HubMessage, HubMessage__Output } from './gen/agentplane/v1/HubMessage.ts';
export type { Hello__Output } from './gen/agentplane/v1/Hello.ts';
export type { Heartbeat, Heartbeat__Output } from './gen/agentplane/v1/Heartbeat.ts';
export type { Command, Command__Output } from './gen/agentplane/v1/Command.ts';
export type { CommandResult, CommandResult__Output } from './gen/agentplane/v1/CommandResult.ts';
export type { CommandLedger, CommandLedger__Output } from './gen/agentplane/v1/CommandLedger.ts';
export type { CommandStatus } from './gen/agentplane/v1/CommandStatus.ts';
export type { GatewayState } from './gen/agentplane/v1/GatewayState.ts';
export type { GatewayStatus, GatewayStatus__Output } from './gen/agentplane/v1/GatewayStatus.ts';
export type { EnrollRequest__Output } from './gen/agentplane/v1/EnrollRequest.ts';
export type { EnrollResponse, EnrollResponse__Output } from './gen/agentplane/v1/EnrollResponse.ts';
export type { LogChunk__Output } from './gen/agentplane/v1/LogChunk.ts';
export type { Event__Output } from './gen/agentplane/v1/Event.ts';
export type { TokenUsage } from './gen/agentplane/v1/TokenUsage.ts';
export type { AgentPlaneClient } from './gen/agentplane/v1/AgentPlane.ts';
export type { AgentPlaneHandlers } from './gen/agentplane/v1/AgentPlane.ts';
export type { SyncStatus, SyncStatus__Output } from './gen/agentplane/v1/SyncStatus.ts';
export type { BrainGrant, BrainGrant__Output } from './gen/agentplane/v1/BrainGrant.ts';
export type { SecretManifest, SecretManifest__Output } from './gen/agentplane/v1/SecretManifest.ts';
export type { SecretRequest__Output } from './gen/agentplane/v1/SecretRequest.ts';
export type { SecretResponse, SecretResponse__Output } from './gen/agentplane/v1/SecretResponse.ts';
