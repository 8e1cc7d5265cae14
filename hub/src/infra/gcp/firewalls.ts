import type { protos } from '@google-cloud/compute';
import type { GcpCalls } from './gcp-calls.ts';
import { isAlreadyExists, isNotFound } from './gcp-errors.ts';
import { AGENT_TAG, firewallNames, IAP_RANGE } from './gcp-names.ts';
import { operationName } from './operations.ts';

type Firewall = protos.google.cloud.compute.v1.IFirewall;

/** The IAP allow sits at the default priority; the agent-to-agent deny above it, so no allow on the network can open agent to agent. */
export const ALLOW_PRIORITY = 1000;
export const DENY_PRIORITY = 900;

export function networkPath(project: string, network: string): string {
  return network.includes('/') ? network : `projects/${project}/global/networks/${network}`;
}

/** The two rules a plane's network needs: SSH from IAP only, and nothing from one agent to another. */
export function planeFirewallRules(project: string, network: string): Firewall[] {
  const names = firewallNames(network);
  const net = networkPath(project, network);
  return [
    {
      name: names.allowIapSsh,
      network: net,
      direction: 'INGRESS',
      priority: ALLOW_PRIORITY,
      sourceRanges: [IAP_RANGE],
      targetTags: [AGENT_TAG],
      allowed: [{ IPProtocol: 'tcp', ports: ['22'] }],
      description: 'agents-plane: SSH to agents only through IAP TCP forwarding',
    },
    {
      name: names.denyAgentToAgent,
      network: net,
      direction: 'INGRESS',
      priority: DENY_PRIORITY,
      sourceTags: [AGENT_TAG],
      targetTags: [AGENT_TAG],
      denied: [{ IPProtocol: 'all' }],
      description: 'agents-plane: agents cannot reach each other',
    },
  ];
}

/** The fields that make a rule what it is; anything else (ids, timestamps) may differ. */
function shape(f: Firewall): string {
  return JSON.stringify({
    direction: f.direction,
    priority: f.priority,
    sourceRanges: f.sourceRanges ?? [],
    sourceTags: f.sourceTags ?? [],
    targetTags: f.targetTags ?? [],
    allowed: (f.allowed ?? []).map((a) => ({ IPProtocol: a.IPProtocol, ports: a.ports ?? [] })),
    denied: (f.denied ?? []).map((d) => ({ IPProtocol: d.IPProtocol, ports: d.ports ?? [] })),
    disabled: f.disabled ?? false,
  });
}

/**
 * Makes the plane network's rules exist as planeFirewallRules says: created
 * when missing, patched back when someone changed them. Rules are per
 * network, shared by every plane on it, and left in place when a plane goes.
 */
export async function ensurePlaneFirewalls(calls: GcpCalls, project: string, network: string): Promise<string[]> {
  const done: string[] = [];
  for (const want of planeFirewallRules(project, network)) {
    const name = want.name as string;
    let have: Firewall | undefined;
    try {
      [have] = await calls.run('firewalls.get', () => calls.clients.firewalls.get({ project, firewall: name }, calls.call));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!have) {
      try {
        const op = await calls.run('firewalls.insert', () => calls.clients.firewalls.insert({ project, firewallResource: want }, calls.call));
        await calls.wait({ project, name: operationName(op) });
      } catch (err) {
        // Another hub (or a retry) made it first.
        if (!isAlreadyExists(err)) throw err;
      }
      done.push(`created ${name}`);
    } else if (shape(want) !== shape(have)) {
      const op = await calls.run('firewalls.patch', () => calls.clients.firewalls.patch({ project, firewall: name, firewallResource: want }, calls.call));
      await calls.wait({ project, name: operationName(op) });
      done.push(`restored ${name}`);
    }
  }
  return done;
}
