// Original file: proto/agentplane/v1/agentplane.proto


export interface SecretEntry {
  'name'?: (string);
  'version'?: (number);
}

export interface SecretEntry__Output {
  'name': (string);
  'version': (number);
}
