import { closeSync, constants as fsc, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ensureDir } from '../../../common/src/files.ts';
import { checkSecretName } from '../../../common/src/secrets/secrets-provider.ts';

/**
 * Secret values OpenClaw can only read from a file (channel tokens). They live
 * in one 0700 directory, each file 0600, written by temp name and rename, and
 * are all removed when agentd stops (and leftovers of a crash when it starts).
 * Under systemd the directory is on tmpfs ($RUNTIME_DIRECTORY, /run/agentd), so
 * a value never reaches a disk; elsewhere it is `<state>/run/secret-files`.
 */
export class SecretFiles {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The directory for an agentd: `$RUNTIME_DIRECTORY/secret-files` under systemd, else under its state dir. */
  static dirFor(stateDir: string, env: NodeJS.ProcessEnv = process.env): string {
    const runtime = env['RUNTIME_DIRECTORY']?.split(':')[0];
    return runtime ? join(runtime, 'secret-files') : join(stateDir, 'run', 'secret-files');
  }

  /** Writes one value; returns its path. */
  write(name: string, value: string): string {
    checkSecretName(name);
    ensureDir(this.dir, 0o700);
    const path = join(this.dir, name);
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, value);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    return path;
  }

  remove(name: string): void {
    rmSync(join(this.dir, name), { force: true });
  }

  /** Removes every file; returns how many there were. */
  clear(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const n of names) rmSync(join(this.dir, n), { force: true, recursive: true });
    return names.length;
  }
}
