import { ErrorCode, PlaneError } from '../../../common/src/errors.ts';
import type { InfraProvider } from './infra-provider.ts';

/** Provider registry with runtime selection by a plane's `infraProvider` (REQ-ID-01 pattern). */
export class InfraRegistry {
  readonly #providers = new Map<string, InfraProvider>();

  register(provider: InfraProvider): void {
    this.#providers.set(provider.name, provider);
  }

  get(name: string): InfraProvider {
    const p = this.#providers.get(name);
    if (!p) {
      throw new PlaneError(
        ErrorCode.FailedPrecondition,
        `infra provider '${name}' is not available on this hub (available: ${[...this.#providers.keys()].join(', ') || 'none'})`,
        { where: 'infraProvider' },
      );
    }
    return p;
  }

  has(name: string): boolean {
    return this.#providers.has(name);
  }

  all(): InfraProvider[] {
    return [...this.#providers.values()];
  }
}
