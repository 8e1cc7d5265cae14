/**
 * Compute for agents, as in the requirements doc (InfraProvider), with the
 * identity and bootstrap material the provider must hand to the new machine.
 * Implementations: "local" (agentd processes on the hub host) now; Google
 * Compute Engine slots in beside it behind the same interface.
 */
export interface AgentComputeSpec {
  agentId: string;
  plane: string;
  agentName: string;
  machineType: string;
  region: string;
  diskSizeGb: number;
  image?: string;
  labels: Record<string, string>;
  startupScript?: string;
  /** Handed to the machine once (metadata, file); a one-time credential. */
  bootstrap: { enrollmentBundle: string };
  /** The OpenClaw release the agent last ran, so a new machine for it keeps an upgrade; default: the pin. */
  openclawVersion?: string;
}

/** 'unknown': the provider does not run the machine (manual) and cannot tell. */
export type InstanceState = 'provisioning' | 'running' | 'stopped' | 'missing' | 'unknown';

export interface AgentInstance {
  agentId: string;
  plane: string;
  agentName: string;
  provider: string;
  /** Provider-specific handle: a pid, an instance self-link. */
  instanceRef: string;
  state: InstanceState;
  machineType: string;
  labels: Record<string, string>;
}

export interface AgentStatus {
  agentId: string;
  state: InstanceState;
  detail: string;
}

export interface InfraProvider {
  readonly name: string;
  /** Whether restart() can bring back a dead machine; self-healing skips providers that cannot. */
  readonly canRestart: boolean;
  provision(spec: AgentComputeSpec): Promise<AgentInstance>;
  deprovision(agentId: string): Promise<void>;
  restart(agentId: string): Promise<void>;
  /** Stop the machine but keep its disk: nothing runs, nothing is lost. */
  stop(agentId: string): Promise<void>;
  start(agentId: string): Promise<void>;
  status(agentId: string): Promise<AgentStatus>;
  listInstances(plane: string): Promise<AgentInstance[]>;
  resize(agentId: string, spec: Partial<Pick<AgentComputeSpec, 'machineType' | 'diskSizeGb' | 'labels'>>): Promise<void>;
}
