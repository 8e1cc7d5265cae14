// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

export interface Command {
  /**
   * Stable across redeliveries; agentd applies each id at most once and
   * answers a redelivery with the recorded result.
   */
  'id'?: (string);
  /**
   * "restart", "pause", "resume", ... (see Hello.capabilities)
   */
  'kind'?: (string);
  /**
   * JSON object; its shape depends on kind.
   */
  'argsJson'?: (string);
  'issuedAtMs'?: (number | string | Long);
  /**
   * After this instant the command must not be started.
   */
  'deadlineMs'?: (number | string | Long);
}

export interface Command__Output {
  /**
   * Stable across redeliveries; agentd applies each id at most once and
   * answers a redelivery with the recorded result.
   */
  'id': (string);
  /**
   * "restart", "pause", "resume", ... (see Hello.capabilities)
   */
  'kind': (string);
  /**
   * JSON object; its shape depends on kind.
   */
  'argsJson': (string);
  'issuedAtMs': (number);
  /**
   * After this instant the command must not be started.
   */
  'deadlineMs': (number);
}
