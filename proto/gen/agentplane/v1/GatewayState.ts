// Original file: proto/agentplane/v1/agentplane.proto

export const GatewayState = {
  GATEWAY_STATE_UNSPECIFIED: 'GATEWAY_STATE_UNSPECIFIED',
  GATEWAY_STATE_STOPPED: 'GATEWAY_STATE_STOPPED',
  GATEWAY_STATE_STARTING: 'GATEWAY_STATE_STARTING',
  GATEWAY_STATE_RUNNING: 'GATEWAY_STATE_RUNNING',
  GATEWAY_STATE_STOPPING: 'GATEWAY_STATE_STOPPING',
  /**
   * Crashed; waiting out a restart backoff.
   */
  GATEWAY_STATE_BACKOFF: 'GATEWAY_STATE_BACKOFF',
  /**
   * Will not be restarted without a human or a command (bad config, crash loop).
   */
  GATEWAY_STATE_FAILED: 'GATEWAY_STATE_FAILED',
  GATEWAY_STATE_PAUSED: 'GATEWAY_STATE_PAUSED',
  /**
   * Installing or verifying the pinned runtime before the first start.
   */
  GATEWAY_STATE_INSTALLING: 'GATEWAY_STATE_INSTALLING',
} as const;

export type GatewayState =
  | 'GATEWAY_STATE_UNSPECIFIED'
  | 0
  | 'GATEWAY_STATE_STOPPED'
  | 1
  | 'GATEWAY_STATE_STARTING'
  | 2
  | 'GATEWAY_STATE_RUNNING'
  | 3
  | 'GATEWAY_STATE_STOPPING'
  | 4
  /**
   * Crashed; waiting out a restart backoff.
   */
  | 'GATEWAY_STATE_BACKOFF'
  | 5
  /**
   * Will not be restarted without a human or a command (bad config, crash loop).
   */
  | 'GATEWAY_STATE_FAILED'
  | 6
  | 'GATEWAY_STATE_PAUSED'
  | 7
  /**
   * Installing or verifying the pinned runtime before the first start.
   */
  | 'GATEWAY_STATE_INSTALLING'
  | 8

export type GatewayState__Output = typeof GatewayState[keyof typeof GatewayState]
