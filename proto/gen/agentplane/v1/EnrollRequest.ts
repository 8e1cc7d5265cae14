// Original file: proto/agentplane/v1/agentplane.proto


export interface EnrollRequest {
  /**
   * Issued by the hub when the agent is added: single use, expires.
   */
  'enrollmentToken'?: (string);
  /**
   * Cloud enrolment: a Compute Engine instance identity token whose audience
   * is the hub; accepted when the hub runs with --instance-identity.
   */
  'instanceIdentityToken'?: (string);
  /**
   * What the agent believes it is; the hub checks these against the proof.
   */
  'plane'?: (string);
  'agentName'?: (string);
  'bootId'?: (string);
  'agentdVersion'?: (string);
  'proof'?: "enrollmentToken"|"instanceIdentityToken";
}

export interface EnrollRequest__Output {
  /**
   * Issued by the hub when the agent is added: single use, expires.
   */
  'enrollmentToken'?: (string);
  /**
   * Cloud enrolment: a Compute Engine instance identity token whose audience
   * is the hub; accepted when the hub runs with --instance-identity.
   */
  'instanceIdentityToken'?: (string);
  /**
   * What the agent believes it is; the hub checks these against the proof.
   */
  'plane': (string);
  'agentName': (string);
  'bootId': (string);
  'agentdVersion': (string);
  'proof'?: "enrollmentToken"|"instanceIdentityToken";
}
