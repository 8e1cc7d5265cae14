// Original file: proto/agentplane/v1/agentplane.proto


/**
 * Asks for secret values by known name. The hub serves only the namespace of
 * the agent the stream is authenticated as; plane/agent, when set, must name
 * that namespace, and any other is refused and audited.
 */
export interface SecretRequest {
  'requestId'?: (string);
  'names'?: (string)[];
  'plane'?: (string);
  'agent'?: (string);
}

/**
 * Asks for secret values by known name. The hub serves only the namespace of
 * the agent the stream is authenticated as; plane/agent, when set, must name
 * that namespace, and any other is refused and audited.
 */
export interface SecretRequest__Output {
  'requestId': (string);
  'names': (string)[];
  'plane': (string);
  'agent': (string);
}
