import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, PlaneError } from '../../common/src/errors.ts';
import { writeFileAtomic } from '../../common/src/files.ts';

/** What enrolment leaves behind: enough to reconnect forever without the one-time token. */
export interface StoredCredential {
  agentId: string;
  plane: string;
  agent: string;
  hub: string;
  caPem: string;
  credential: string;
  enrolledAt: number;
  /**
   * During a credential rotation: the other credential (the new one until the
   * hub confirms it, then the old one). Tried once when the hub refuses the current.
   */
  alternate?: string;
}

/** <stateDir>/credential.json, mode 0600, written atomically. */
export class CredentialStore {
  readonly path: string;
  constructor(stateDir: string) {
    this.path = join(stateDir, 'credential.json');
  }

  load(): StoredCredential | undefined {
    if (!existsSync(this.path)) return undefined;
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as StoredCredential;
    } catch (cause) {
      throw new PlaneError(ErrorCode.FailedPrecondition, `credential file ${this.path} is unreadable; re-enrol the agent`, { where: this.path, cause });
    }
  }

  save(c: StoredCredential): void {
    writeFileAtomic(this.path, `${JSON.stringify(c, null, 2)}\n`, 0o600);
  }
}
