// Original file: proto/agentplane/v1/agentplane.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A restore that fell back: which snapshot it used instead of the newest, and what it could not restore.
 */
export interface RestoreFallback {
  /**
   * The snapshot it could not restore in full (HEAD's; empty when HEAD itself was missing).
   */
  'newest'?: (string);
  /**
   * The snapshot it restored: the newest complete one, or the newest readable one without its broken files.
   */
  'used'?: (string);
  /**
   * Why the newest could not be used.
   */
  'reason'?: (string);
  /**
   * Paths (workspace files, databases) whose newest version was not restored; the first 50.
   */
  'unrestored'?: (string)[];
  'unrestoredCount'?: (number);
  'atMs'?: (number | string | Long);
}

/**
 * A restore that fell back: which snapshot it used instead of the newest, and what it could not restore.
 */
export interface RestoreFallback__Output {
  /**
   * The snapshot it could not restore in full (HEAD's; empty when HEAD itself was missing).
   */
  'newest': (string);
  /**
   * The snapshot it restored: the newest complete one, or the newest readable one without its broken files.
   */
  'used': (string);
  /**
   * Why the newest could not be used.
   */
  'reason': (string);
  /**
   * Paths (workspace files, databases) whose newest version was not restored; the first 50.
   */
  'unrestored': (string)[];
  'unrestoredCount': (number);
  'atMs': (number);
}
