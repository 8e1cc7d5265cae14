// Original file: proto/agentplane/v1/agentplane.proto

import type { CommandResult as _agentplane_v1_CommandResult, CommandResult__Output as _agentplane_v1_CommandResult__Output } from '../../agentplane/v1/CommandResult.ts';

/**
 * A bounded view of agentd's command journal: its newest entries, newest first
 * (at most 200; log streams are left out).
 */
export interface CommandLedger {
  /**
   * One per command: ACCEPTED while it runs, else its final status and result.
   */
  'results'?: (_agentplane_v1_CommandResult)[];
  /**
   * Ids whose output was too large to carry here (their results carry none):
   * the hub sends these commands again and the journal answers in full.
   */
  'outputOmitted'?: (string)[];
}

/**
 * A bounded view of agentd's command journal: its newest entries, newest first
 * (at most 200; log streams are left out).
 */
export interface CommandLedger__Output {
  /**
   * One per command: ACCEPTED while it runs, else its final status and result.
   */
  'results': (_agentplane_v1_CommandResult__Output)[];
  /**
   * Ids whose output was too large to carry here (their results carry none):
   * the hub sends these commands again and the journal answers in full.
   */
  'outputOmitted': (string)[];
}
