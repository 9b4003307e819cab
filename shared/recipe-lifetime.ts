import { describe, type Logger } from './binding/index.js';

/**
 * One recipe's life in the host: its `AbortSignal` (aborted when the host stops, when its setup
 * fails or times out, or when it is closed) and the cleanups registered with `onClose`, run once,
 * in reverse order, whatever the reason for closing. The host's shutdown steps for a recipe are
 * this class's `close`.
 */
export class RecipeLifetime {
  private readonly controller = new AbortController();
  private readonly cleanups: (() => unknown)[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    hostSignal: AbortSignal,
    private readonly log: Logger,
  ) {
    if (hostSignal.aborted) this.controller.abort(hostSignal.reason);
    else
      hostSignal.addEventListener('abort', () => this.controller.abort(hostSignal.reason), { once: true, signal: this.controller.signal });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Registers a cleanup (`ctx.onClose`). After `close` has begun (a setup that timed out and
   * still runs, say), the cleanup runs at once.
   */
  readonly onClose = (cleanup: () => unknown): void => {
    if (typeof cleanup !== 'function') throw new TypeError('onClose: the cleanup must be a function');
    if (this.closing) void this.run(cleanup);
    else this.cleanups.push(cleanup);
  };

  /** Aborts the signal with `reason`, then runs the cleanups, last registered first; a failing one is logged and the others still run. */
  close(reason: unknown = new Error('the recipe is closing')): Promise<void> {
    this.closing ??= (async () => {
      this.controller.abort(reason);
      for (const cleanup of this.cleanups.splice(0).reverse()) await this.run(cleanup);
    })();
    return this.closing;
  }

  private async run(cleanup: () => unknown): Promise<void> {
    try {
      await cleanup();
    } catch (error) {
      this.log.error(`close failed: ${describe(error)}`);
    }
  }
}
