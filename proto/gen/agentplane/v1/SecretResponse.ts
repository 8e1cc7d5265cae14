// Original file: proto/agentplane/v1/agentplane.proto

import type { SecretEntry as _agentplane_v1_SecretEntry, SecretEntry__Output as _agentplane_v1_SecretEntry__Output } from '../../agentplane/v1/SecretEntry.ts';

/**
 * Sent only on the agent's own stream. agentd keeps values in memory only.
 */
export interface SecretResponse {
  'requestId'?: (string);
  'values'?: ({[key: string]: Buffer | Uint8Array | string});
  'versions'?: ({[key: string]: number});
  /**
   * Known names with no value in the namespace.
   */
  'missing'?: (string)[];
  /**
   * Set when the whole request was refused.
   */
  'error'?: (string);
  'revision'?: (string);
  /**
   * The namespace's names and versions now: a name agentd did not ask for is new to it.
   */
  'entries'?: (_agentplane_v1_SecretEntry)[];
}

/**
 * Sent only on the agent's own stream. agentd keeps values in memory only.
 */
export interface SecretResponse__Output {
  'requestId': (string);
  'values': ({[key: string]: Buffer});
  'versions': ({[key: string]: number});
  /**
   * Known names with no value in the namespace.
   */
  'missing': (string)[];
  /**
   * Set when the whole request was refused.
   */
  'error': (string);
  'revision': (string);
  /**
   * The namespace's names and versions now: a name agentd did not ask for is new to it.
   */
  'entries': (_agentplane_v1_SecretEntry__Output)[];
}
