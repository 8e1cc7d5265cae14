// Original file: proto/agentplane/v1/agentplane.proto

import type { ModelUsage as _agentplane_v1_ModelUsage, ModelUsage__Output as _agentplane_v1_ModelUsage__Output } from '../../agentplane/v1/ModelUsage.ts';
import type { Long } from '@grpc/proto-loader';

export interface TokenUsage {
  'inputTokens'?: (number | string | Long);
  'outputTokens'?: (number | string | Long);
  'cacheReadTokens'?: (number | string | Long);
  'cacheWriteTokens'?: (number | string | Long);
  'totalTokens'?: (number | string | Long);
  'totalCostUsd'?: (number | string);
  'byModel'?: (_agentplane_v1_ModelUsage)[];
  'observedAtMs'?: (number | string | Long);
}

export interface TokenUsage__Output {
  'inputTokens': (number);
  'outputTokens': (number);
  'cacheReadTokens': (number);
  'cacheWriteTokens': (number);
  'totalTokens': (number);
  'totalCostUsd': (number);
  'byModel': (_agentplane_v1_ModelUsage__Output)[];
  'observedAtMs': (number);
}
