// Original file: proto/agentplane/v1/agentplane.proto


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
}
