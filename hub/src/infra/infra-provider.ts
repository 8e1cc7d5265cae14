/**
 * Compute for agents, as in the requirements doc (InfraProvider), with the
 * identity and bootstrap material the provider must hand to the new machine.
 * Implementations: "local" (agentd processes on the hub host), "manual"
 * (machines an operator runs) and "gcp" (a Compute Engine VM per agent).
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
  /** The agent's owner: cloud providers grant them (and only them) access to the machine. */
  owner?: string;
  /** Run on preemptible capacity (gcp: a Spot VM). */
  spot?: boolean;
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
  /** Where it runs, e.g. a zone. */
  location?: string;
  /** The cloud's own word for its state, e.g. RUNNING, TERMINATED. */
  providerStatus?: string;
}

export interface AgentStatus {
  agentId: string;
  state: InstanceState;
  detail: string;
  location?: string;
  providerStatus?: string;
}

export interface InfraProvider {
  readonly name: string;
  /** Whether restart() can bring back a dead machine; self-healing skips providers that cannot. */
  readonly canRestart: boolean;
  /**
   * The machine can change outside the plane (deleted or stopped in a cloud
   * console): the hub polls listInstances, shows such an agent red with the
   * status's detail, and self-healing reprovisions it.
   */
  readonly reportsDrift?: boolean;
  /**
   * Agents `apply` provisions at once on this provider (default 4). A cloud
   * provider that rate-limits its own calls waits on Google, not on the CPU,
   * so it can take many.
   */
  readonly provisionConcurrency?: number;
  provision(spec: AgentComputeSpec): Promise<AgentInstance>;
  deprovision(agentId: string): Promise<void>;
  restart(agentId: string): Promise<void>;
  /** Stop the machine but keep its disk: nothing runs, nothing is lost. */
  stop(agentId: string): Promise<void>;
  start(agentId: string): Promise<void>;
  status(agentId: string): Promise<AgentStatus>;
  listInstances(plane: string): Promise<AgentInstance[]>;
  resize(agentId: string, spec: Partial<Pick<AgentComputeSpec, 'machineType' | 'diskSizeGb' | 'labels'>>): Promise<void>;
  /** Refuses a plane spec this provider cannot run (e.g. gcp without a project). */
  checkPlane?(spec: { region: string; project?: string | undefined; zone?: string | undefined }): void;
  /** The agent's owner changed: move machine access from one to the other. */
  setOwner?(agentId: string, from: string, to: string): Promise<void>;
  /** The agent's secrets changed (one was set or deleted): keep per-secret access current. */
  secretsChanged?(agentId: string): Promise<void>;
}
