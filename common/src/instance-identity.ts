import { createHash } from 'node:crypto';

/**
 * What agentd and the hub agree on for instance-identity enrolment on Compute
 * Engine (agentd/src/bootstrap.ts asks for the token, hub/src/grpc/instance-identity.ts
 * checks it).
 */

/** The audience agentd asks Google to sign for, and the hub expects unless configured otherwise. */
export function defaultAudience(hub: string): string {
  return `https://${hub}`;
}

const MAX_GCE_NAME = 63;

/**
 * The Compute Engine instance name of an agent: `<plane>-<agent>`, or when that is
 * longer than the 63 characters GCE allows, its first 54 characters and 8 hex of
 * sha256("<plane>/<agent>"). The hub accepts an identity token only from the
 * instance of this name in the plane's project; a GCE provider must name instances
 * so.
 */
export function gceInstanceName(plane: string, agent: string): string {
  const name = `${plane}-${agent}`;
  if (name.length <= MAX_GCE_NAME) return name;
  const hash = createHash('sha256').update(`${plane}/${agent}`).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_GCE_NAME - 9).replace(/-+$/, '')}-${hash}`;
}
