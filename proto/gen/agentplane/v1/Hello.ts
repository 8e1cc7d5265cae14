// Original file: proto/agentplane/v1/agentplane.proto


/**
 * First message on every stream.
 */
export interface Hello {
  /**
   * Must equal the authenticated agent id; a mismatch ends the stream.
   */
  'agentId'?: (string);
  /**
   * Changes on every agentd start; lets the hub tell a reconnect from a restart.
   */
  'bootId'?: (string);
  'agentdVersion'?: (string);
  /**
   * e.g. {"node": "24.21.0", "openclaw": "2026.9.6"}
   */
  'runtimeVersions'?: ({[key: string]: string});
  /**
   * Command kinds this agentd handles.
   */
  'capabilities'?: (string)[];
}

/**
 * First message on every stream.
 */
export interface Hello__Output {
  /**
   * Must equal the authenticated agent id; a mismatch ends the stream.
   */
  'agentId': (string);
  /**
   * Changes on every agentd start; lets the hub tell a reconnect from a restart.
   */
  'bootId': (string);
  'agentdVersion': (string);
  /**
   * e.g. {"node": "24.21.0", "openclaw": "2026.9.6"}
   */
  'runtimeVersions': ({[key: string]: string});
  /**
   * Command kinds this agentd handles.
   */
  'capabilities': (string)[];
}
