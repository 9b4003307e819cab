/**
 * A budget of bytes held at once, shared by the requests of a recipe: each one reserves what it
 * is about to hold (a download, say) before it holds it, waits in turn (first come, first
 * served) while the budget is spent, and gives it back when done. Bytes, not requests: ten small
 * files go through together where one large file waits for room.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: {
    bytes: number;
    resolve: () => void;
    reject: (error: unknown) => void;
    signal?: AbortSignal;
    onAbort?: () => void;
  }[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`a byte budget needs a capacity > 0, not ${capacity}`);
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Reservations waiting for room. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Reserves `bytes` (at most `capacity`: check first), waiting for room; resolves with the
   * function that gives them back (calling it twice gives back once). An abort of `signal` while
   * waiting rejects with its reason and reserves nothing.
   */
  async reserve(bytes: number, signal?: AbortSignal): Promise<() => void> {
    if (bytes > this.capacity) throw new RangeError(`${bytes} bytes can never fit in a budget of ${this.capacity}`);
    signal?.throwIfAborted();
    if (this.waiting.length === 0 && this.used + bytes <= this.capacity) {
      this.used += bytes;
    } else {
      await new Promise<void>((resolve, reject) => {
        const entry: (typeof this.waiting)[number] = { bytes, resolve, reject, signal };
        if (signal) {
          entry.onAbort = () => {
            this.waiting.splice(this.waiting.indexOf(entry), 1);
            reject(signal.reason as Error);
            this.grant(); // the head may have been the one that did not fit
          };
          signal.addEventListener('abort', entry.onAbort, { once: true });
        }
        this.waiting.push(entry);
      });
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= bytes;
      this.grant();
    };
  }

  /** Lets waiting reservations in, in order, while the head fits. */
  private grant(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.capacity) {
      const next = this.waiting.shift()!;
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      this.used += next.bytes;
      next.resolve();
    }
  }
}
