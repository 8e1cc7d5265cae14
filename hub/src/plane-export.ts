import { minimalDeclaration } from './agent-settings.ts';
import type { AgentRecord, PlaneRecord } from './model.ts';
import type { PlanesFile, PlanesFileAgent } from './planes-file.ts';

/**
 * A plane as planes.yaml: applying the result to the same plane gives an empty
 * plan. Agents carry only values that differ from what the plane's defaults and
 * policies give them, so the file stays as short as the one an admin writes.
 */
export function exportPlane(plane: PlaneRecord, agents: readonly AgentRecord[]): PlanesFile {
  const s = plane.spec;
  return {
    apiVersion: 'openclaw.dev/v1alpha1',
    kind: 'AgentsPlane',
    metadata: { name: plane.name },
    spec: {
      identity: { provider: s.identityProvider, ...s.identity },
      infrastructure: {
        provider: s.infraProvider,
        ...(s.project !== undefined ? { project: s.project } : {}),
        region: s.region,
        ...(s.zone !== undefined ? { zone: s.zone } : {}),
        ...(s.network !== undefined ? { network: s.network } : {}),
        ...(s.subnetwork !== undefined ? { subnetwork: s.subnetwork } : {}),
        defaults: { ...s.defaults },
      },
      secrets: { provider: s.secretsProvider, ...(s.secretsProject !== undefined ? { project: s.secretsProject } : {}) },
      networking: { provider: s.networkProvider, ...(s.egressPolicy !== undefined ? { egressPolicy: s.egressPolicy } : {}) },
      ...(s.models !== undefined ? { models: s.models } : {}),
      ...(s.costs !== undefined ? { costs: s.costs } : {}),
      agents: agents.map((a): PlanesFileAgent => {
        const d = minimalDeclaration(s, a.spec);
        return { name: a.name, owner: a.owner, ...(Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as Omit<PlanesFileAgent, 'name' | 'owner'>) };
      }),
      ...(s.policies !== undefined && s.policies.length > 0 ? { policies: s.policies } : {}),
    },
  };
}
