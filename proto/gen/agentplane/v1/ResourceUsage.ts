// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface ResourceUsage {
  /**
   * agentd plus its supervised children, percent of one core since the last heartbeat.
   */
  'cpuPercent'?: (number | string);
  'agentdRssBytes'?: (number | string | Long);
  'diskFreeBytes'?: (number | string | Long);
  'diskTotalBytes'?: (number | string | Long);
}

export interface ResourceUsage__Output {
  /**
   * agentd plus its supervised children, percent of one core since the last heartbeat.
   */
  'cpuPercent': (number);
  'agentdRssBytes': (number);
  'diskFreeBytes': (number);
  'diskTotalBytes': (number);
}
