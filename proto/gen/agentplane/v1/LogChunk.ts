// Original file: proto/agentplane/v1/agentplane.proto

import type { LogLine as _agentplane_v1_LogLine, LogLine__Output as _agentplane_v1_LogLine__Output } from '../../agentplane/v1/LogLine.ts';

export interface LogChunk {
  /**
   * The id of the "logs" command this answers.
   */
  'commandId'?: (string);
  'lines'?: (_agentplane_v1_LogLine)[];
  /**
   * No more chunks follow for this command.
   */
  'eof'?: (boolean);
}

export interface LogChunk__Output {
  /**
   * The id of the "logs" command this answers.
   */
  'commandId': (string);
  'lines': (_agentplane_v1_LogLine__Output)[];
  /**
   * No more chunks follow for this command.
   */
  'eof': (boolean);
}
