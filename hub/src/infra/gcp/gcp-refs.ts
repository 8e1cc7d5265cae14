/** What the provider needs to know of a plane: where its agents live. */
export interface GcpPlaneRef {
  project: string;
  region: string;
  zone: string;
  network: string;
  subnetwork?: string | undefined;
  /** projects/P/global/images/family/F or one image; default the golden image family in the plane's project. */
  image?: string | undefined;
}

/** What the provider needs to know of an agent. */
export interface GcpAgentRef {
  agentId: string;
  plane: string;
  agent: string;
  owner: string;
}
