// Original file: proto/agentplane/v1/agentplane.proto

import type { CommandLedger as _agentplane_v1_CommandLedger, CommandLedger__Output as _agentplane_v1_CommandLedger__Output } from '../../agentplane/v1/CommandLedger.ts';

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
  /**
   * What this agentd did with the commands it received lately, from its
   * journal: the hub learns the outcome of commands whose results it never got
   * (it was down, or the stream broke) at once, without sending them again.
   * Absent from agentd versions that do not send one.
   */
  'ledger'?: (_agentplane_v1_CommandLedger | null);
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
  /**
   * What this agentd did with the commands it received lately, from its
   * journal: the hub learns the outcome of commands whose results it never got
   * (it was down, or the stream broke) at once, without sending them again.
   * Absent from agentd versions that do not send one.
   */
  'ledger': (_agentplane_v1_CommandLedger__Output | null);
}
