// Original file: proto/agentplane/v1/agentplane.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentMessage as _agentplane_v1_AgentMessage, AgentMessage__Output as _agentplane_v1_AgentMessage__Output } from '../../agentplane/v1/AgentMessage.ts';
import type { EnrollRequest as _agentplane_v1_EnrollRequest, EnrollRequest__Output as _agentplane_v1_EnrollRequest__Output } from '../../agentplane/v1/EnrollRequest.ts';
import type { EnrollResponse as _agentplane_v1_EnrollResponse, EnrollResponse__Output as _agentplane_v1_EnrollResponse__Output } from '../../agentplane/v1/EnrollResponse.ts';
import type { HubMessage as _agentplane_v1_HubMessage, HubMessage__Output as _agentplane_v1_HubMessage__Output } from '../../agentplane/v1/HubMessage.ts';

export interface AgentPlaneClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentplane_v1_AgentMessage, _agentplane_v1_HubMessage__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentplane_v1_AgentMessage, _agentplane_v1_HubMessage__Output>;
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentplane_v1_AgentMessage, _agentplane_v1_HubMessage__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_agentplane_v1_AgentMessage, _agentplane_v1_HubMessage__Output>;
  
  Enroll(argument: _agentplane_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _agentplane_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _agentplane_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  Enroll(argument: _agentplane_v1_EnrollRequest, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _agentplane_v1_EnrollRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _agentplane_v1_EnrollRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _agentplane_v1_EnrollRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  enroll(argument: _agentplane_v1_EnrollRequest, callback: grpc.requestCallback<_agentplane_v1_EnrollResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AgentPlaneHandlers extends grpc.UntypedServiceImplementation {
  Connect: grpc.handleBidiStreamingCall<_agentplane_v1_AgentMessage__Output, _agentplane_v1_HubMessage>;
  
  Enroll: grpc.handleUnaryCall<_agentplane_v1_EnrollRequest__Output, _agentplane_v1_EnrollResponse>;
  
}

export interface AgentPlaneDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_agentplane_v1_AgentMessage, _agentplane_v1_HubMessage, _agentplane_v1_AgentMessage__Output, _agentplane_v1_HubMessage__Output>
  Enroll: MethodDefinition<_agentplane_v1_EnrollRequest, _agentplane_v1_EnrollResponse, _agentplane_v1_EnrollRequest__Output, _agentplane_v1_EnrollResponse__Output>
}
