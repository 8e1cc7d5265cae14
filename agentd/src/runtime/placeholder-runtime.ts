import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../../../common/src/backoff.ts';
import { ensureDir } from '../../../common/src/files.ts';
import type { ChildSpec } from '../supervisor/child-supervisor.ts';
import type { GatewayRuntime } from './gateway-runtime.ts';

const CHILD = fileURLToPath(new URL(`./placeholder-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export class PlaceholderRuntime implements GatewayRuntime {
  readonly kind = 'placeholder' as const;
  readonly version = 'none';
  readonly fatalExitCodes: Record<number, string> = { 78: 'configuration error' };
  readonly #runDir: string;

  constructor(stateDir: string) {
    this.#runDir = join(stateDir, 'run');
  }

  get #readyFile(): string {
    return join(this.#runDir, 'placeholder.ready');
  }

  async prepare(): Promise<ChildSpec> {
    ensureDir(this.#runDir, 0o700);
    rmSync(this.#readyFile, { force: true });
    return {
      command: process.execPath,
      args: [CHILD],
      cwd: this.#runDir,
      env: { PATH: process.env['PATH'], PLACEHOLDER_READY_FILE: this.#readyFile },
    };
  }

  async waitReady(pid: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (existsSync(this.#readyFile) && readFileSync(this.#readyFile, 'utf8').trim() === String(pid)) return;
      await sleep(50, signal);
    }
  }
}
