import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Shares the event loop between CPU work on the main thread and everything else the host does.
 * Work split into small steps calls `await pacer.pace()` before each step; all the work paced by
 * one pacer (every request of a recipe, say) gets at most `sliceMs` per turn of the event loop,
 * then waits for the next turn (after I/O, timers and other requests had theirs). A step itself
 * must stay short (a few milliseconds): the pacer cannot cut one.
 */
export class Pacer {
  /** When the current slice began; -Infinity: no slice open. */
  private sliceStart = -Infinity;
  private turn: Promise<void> | undefined;
  private yieldCount = 0;

  constructor(readonly sliceMs = 5) {}

  /** Whether `pace()` would wait: a hot loop checks this first, and awaits only when it says so. */
  get due(): boolean {
    return this.turn !== undefined || performance.now() - this.sliceStart >= this.sliceMs;
  }

  /** Resolves when a step may run: at once while the current slice lasts, else on a later turn. */
  async pace(): Promise<void> {
    for (;;) {
      if (this.turn === undefined && performance.now() - this.sliceStart < this.sliceMs) return;
      // One turn for every waiting caller: the first to resume opens the slice, the others re-check.
      this.turn ??= nextTurn().then(() => {
        this.turn = undefined;
        this.sliceStart = performance.now();
        this.yieldCount += 1;
      });
      await this.turn;
    }
  }

  /** How many times paced work waited for a later turn (for tests and logs). */
  get yields(): number {
    return this.yieldCount;
  }
}
