import type { ChildSpec } from '../supervisor/child-supervisor.ts';

/**
 * What agentd supervises. The placeholder runtime stands in until the OpenClaw
 * runtime lands; status reports `runtime: "placeholder"` so nobody mistakes it
 * for a gateway.
 */
export interface GatewayRuntime {
  readonly kind: 'placeholder' | 'openclaw';
  readonly version: string;
  prepare(): Promise<ChildSpec>;
  waitReady(pid: number, signal: AbortSignal): Promise<void>;
  /** Exit codes restarting cannot fix. */
  readonly fatalExitCodes: Record<number, string>;
}
