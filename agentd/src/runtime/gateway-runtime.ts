import type { ChildSpec } from '../supervisor/child-supervisor.ts';

/**
 * What agentd supervises: the real OpenClaw gateway, or a placeholder child
 * (tests and dry runs) that reports `runtime: "placeholder"` so nobody mistakes
 * it for a gateway.
 */
export interface GatewayRuntime {
  readonly kind: 'placeholder' | 'openclaw';
  readonly version: string;
  /** Build the spec for the next start; throw a PlaneError to refuse (no restart loop follows). */
  prepare(): Promise<ChildSpec>;
  waitReady(pid: number, signal: AbortSignal): Promise<void>;
  /** Exit codes restarting cannot fix, with the reason to report. */
  readonly fatalExitCodes: Record<number, string>;
  /** Exit codes that mean "cannot start" only while starting (later, the same code is a crash). */
  readonly startupFatalExitCodes?: Record<number, string>;
}
