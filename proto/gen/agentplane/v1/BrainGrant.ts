// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Sent only on the agent's own authenticated stream.
 */
export interface BrainGrant {
  /**
   * file:///dir or gs://bucket[/prefix]; empty = brain sync disabled.
   */
  'bucketUrl'?: (string);
  /**
   * The agent's 32-byte data key (AES-256-GCM): never logged, never stored by
   * agentd outside memory.
   */
  'dataKey'?: (Buffer | Uint8Array | string);
  /**
   * Fencing token of the writer lease; 0 = this boot may not write (superseded).
   */
  'writerFence'?: (number | string | Long);
  /**
   * Why no lease was granted, when writer_fence is 0.
   */
  'leaseDenied'?: (string);
  /**
   * Only for tests against a GCS stand-in.
   */
  'gcsApiEndpoint'?: (string);
}

/**
 * Sent only on the agent's own authenticated stream.
 */
export interface BrainGrant__Output {
  /**
   * file:///dir or gs://bucket[/prefix]; empty = brain sync disabled.
   */
  'bucketUrl': (string);
  /**
   * The agent's 32-byte data key (AES-256-GCM): never logged, never stored by
   * agentd outside memory.
   */
  'dataKey': (Buffer);
  /**
   * Fencing token of the writer lease; 0 = this boot may not write (superseded).
   */
  'writerFence': (number);
  /**
   * Why no lease was granted, when writer_fence is 0.
   */
  'leaseDenied': (string);
  /**
   * Only for tests against a GCS stand-in.
   */
  'gcsApiEndpoint': (string);
}
