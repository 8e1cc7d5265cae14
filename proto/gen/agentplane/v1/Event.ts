// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface Event {
  'kind'?: (string);
  /**
   * "info" | "warning" | "error"
   */
  'severity'?: (string);
  'message'?: (string);
  'attributes'?: ({[key: string]: string});
  'atMs'?: (number | string | Long);
}

export interface Event__Output {
  'kind': (string);
  /**
   * "info" | "warning" | "error"
   */
  'severity': (string);
  'message': (string);
  'attributes': ({[key: string]: string});
  'atMs': (number);
}
