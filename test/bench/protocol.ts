/** Messages between the benchmark parent and its simulator workers (child_process IPC). */

export interface StartMessage {
  t: 'start';
  /** Index (for the per-channel option) and enrollment bundle of each agent this worker runs. */
  agents: Array<{ index: number; bundle: string }>;
  /** Enrolments/connects in flight at once in this worker. */
  concurrency: number;
}

/** A request the worker answers with a ReplyMessage carrying the same id. */
export interface RequestMessage {
  t: 'request';
  id: number;
  what: 'window-start' | 'window-end' | 'fanout-status';
}

export interface StopMessage {
  t: 'stop';
}

export type ParentMessage = StartMessage | RequestMessage | StopMessage;

export interface ProgressMessage {
  t: 'progress';
  enrolled: number;
  connected: number;
  failed: number;
}

export interface ReadyMessage {
  t: 'ready';
  connected: number;
  failed: number;
  /** The first few failure reasons, for the report. */
  errors: string[];
}

/** Heartbeat figures from window-start to window-end. */
export interface WindowStats {
  acks: number;
  sent: number;
  /** sentAtMs -> ack receipt, one sample per ack. */
  ackRttMs: number[];
  /** Streams that ended while connected (each is re-opened), in the window and since start. */
  disconnects: number;
  disconnectsTotal: number;
}

export interface FanoutStatus {
  /** Date.now() at which each agent received its first command; one entry per agent that has. */
  receivedAt: number[];
  /** Results written back to the hub. */
  answered: number;
}

export interface ReplyMessage {
  t: 'reply';
  id: number;
  body: WindowStats | FanoutStatus | Record<string, never>;
}

export type WorkerMessage = ProgressMessage | ReadyMessage | ReplyMessage;
