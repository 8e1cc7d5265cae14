// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface LogLine {
  'atMs'?: (number | string | Long);
  /**
   * "agentd" or "gateway"
   */
  'source'?: (string);
  'text'?: (string);
}

export interface LogLine__Output {
  'atMs': (number);
  /**
   * "agentd" or "gateway"
   */
  'source': (string);
  'text': (string);
}
