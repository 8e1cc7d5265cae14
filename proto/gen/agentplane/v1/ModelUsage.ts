// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelUsage {
  'model'?: (string);
  'inputTokens'?: (number | string | Long);
  'outputTokens'?: (number | string | Long);
  'cacheReadTokens'?: (number | string | Long);
  'cacheWriteTokens'?: (number | string | Long);
  'totalTokens'?: (number | string | Long);
  'totalCostUsd'?: (number | string);
}

export interface ModelUsage__Output {
  'model': (string);
  'inputTokens': (number);
  'outputTokens': (number);
  'cacheReadTokens': (number);
  'cacheWriteTokens': (number);
  'totalTokens': (number);
  'totalCostUsd': (number);
}
