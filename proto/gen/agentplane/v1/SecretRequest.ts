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
  /**
   * Data key rotation (from a rotate-secrets command): the hub stages a new brain
   * data key in front of the current one, unless one is already staged, and
   * delivers the ring (new key first) as brain-data-key.
   */
  'rotateDataKey'?: (boolean);
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
  /**
   * Data key rotation (from a rotate-secrets command): the hub stages a new brain
   * data key in front of the current one, unless one is already staged, and
   * delivers the ring (new key first) as brain-data-key.
   */
  'rotateDataKey': (boolean);
}
