// Original file: proto/agentplane/v1/agentplane.proto

export const CommandStatus = {
  COMMAND_STATUS_UNSPECIFIED: 'COMMAND_STATUS_UNSPECIFIED',
  /**
   * Received and recorded; work under way.
   */
  COMMAND_STATUS_ACCEPTED: 'COMMAND_STATUS_ACCEPTED',
  COMMAND_STATUS_SUCCEEDED: 'COMMAND_STATUS_SUCCEEDED',
  COMMAND_STATUS_FAILED: 'COMMAND_STATUS_FAILED',
  /**
   * Unknown kind or invalid arguments: never started.
   */
  COMMAND_STATUS_REJECTED: 'COMMAND_STATUS_REJECTED',
  /**
   * Arrived after its deadline: never started.
   */
  COMMAND_STATUS_EXPIRED: 'COMMAND_STATUS_EXPIRED',
  /**
   * agentd stopped while running it; it was not retried.
   */
  COMMAND_STATUS_INTERRUPTED: 'COMMAND_STATUS_INTERRUPTED',
} as const;

export type CommandStatus =
  | 'COMMAND_STATUS_UNSPECIFIED'
  | 0
  /**
   * Received and recorded; work under way.
   */
  | 'COMMAND_STATUS_ACCEPTED'
  | 1
  | 'COMMAND_STATUS_SUCCEEDED'
  | 2
  | 'COMMAND_STATUS_FAILED'
  | 3
  /**
   * Unknown kind or invalid arguments: never started.
   */
  | 'COMMAND_STATUS_REJECTED'
  | 4
  /**
   * Arrived after its deadline: never started.
   */
  | 'COMMAND_STATUS_EXPIRED'
  | 5
  /**
   * agentd stopped while running it; it was not retried.
   */
  | 'COMMAND_STATUS_INTERRUPTED'
  | 6

export type CommandStatus__Output = typeof CommandStatus[keyof typeof CommandStatus]
