// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface SyncStatus {
  'state'?: (string);
  'lastSuccessMs'?: (number | string | Long);
  'lagMs'?: (number | string | Long);
  'pendingChanges'?: (number);
}

export interface SyncStatus__Output {
  'state': (string);
  'lastSuccessMs': (number);
  'lagMs': (number);
  'pendingChanges': (number);
}
