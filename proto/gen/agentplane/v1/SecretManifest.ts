// Original file: proto/agentplane/v1/agentplane.proto

import type { SecretEntry as _agentplane_v1_SecretEntry, SecretEntry__Output as _agentplane_v1_SecretEntry__Output } from '../../agentplane/v1/SecretEntry.ts';

/**
 * What is in an agent's secret namespace. The revision changes whenever a
 * name or version does; agentd reports the revision it has loaded.
 */
export interface SecretManifest {
  'entries'?: (_agentplane_v1_SecretEntry)[];
  'revision'?: (string);
}

/**
 * What is in an agent's secret namespace. The revision changes whenever a
 * name or version does; agentd reports the revision it has loaded.
 */
export interface SecretManifest__Output {
  'entries': (_agentplane_v1_SecretEntry__Output)[];
  'revision': (string);
}
