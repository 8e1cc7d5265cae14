import type { ServerDuplexStream, status } from '@grpc/grpc-js';
import type { AgentMessage__Output, HubMessage } from '../../../proto/index.ts';

export interface AgentSession {
  readonly sessionId: string;
  readonly agentId: string;
  readonly bootId: string;
  readonly connectedAt: number;
  readonly call: ServerDuplexStream<AgentMessage__Output, HubMessage>;
  send(message: HubMessage): boolean;
  /** Ends the stream with a status the agent can act on. */
  close(code: status, details: string): void;
}

/** Which agent has a live stream right now. At most one session per agent: the newest wins. */
export class SessionRegistry {
  readonly #byAgent = new Map<string, AgentSession>();

  /** Registers a session and returns the one it replaced, if any. */
  add(session: AgentSession): AgentSession | undefined {
    const previous = this.#byAgent.get(session.agentId);
    this.#byAgent.set(session.agentId, session);
    return previous;
  }

  /** Removes the session only if it is still the current one for its agent. */
  remove(session: AgentSession): boolean {
    if (this.#byAgent.get(session.agentId) !== session) return false;
    this.#byAgent.delete(session.agentId);
    return true;
  }

  get(agentId: string): AgentSession | undefined {
    return this.#byAgent.get(agentId);
  }

  isConnected(agentId: string): boolean {
    return this.#byAgent.has(agentId);
  }

  all(): AgentSession[] {
    return [...this.#byAgent.values()];
  }

  get size(): number {
    return this.#byAgent.size;
  }
}
