import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Logger } from './binding/index.js';
import type { TaskRequest } from './worker-entry.js';

/**
 * CPU work handed to worker threads, as the Python samples hand it to `multiprocessing.Pool(4)`.
 * A task is a module of the recipe whose default export takes one structured-cloneable input
 * (bytes, numbers, plain objects) and returns one result, possibly through a promise. Tasks
 * never touch the binding: only the main thread talks to Orthanc, workers get bytes and give
 * bytes back.
 */
export interface Workers {
  /**
   * Runs the default export of `task` (e.g. `new URL('./parse-task.js', import.meta.url)`) on
   * `input` in a worker thread. ArrayBuffers in `transfer` are moved to the worker, not copied
   * (they are empty afterwards: pass only buffers you give up, see `ownBytes`). ArrayBuffers in
   * the result come back moved too. What the task throws rejects the promise with a
   * `WorkerTaskError` carrying the worker's message; a worker that dies is replaced.
   */
  run<Output = unknown>(task: URL, input: unknown, options?: WorkerRunOptions): Promise<Output>;
}

export interface WorkerRunOptions {
  transfer?: readonly ArrayBuffer[];
  /** Aborting stops the task's worker (it is replaced) and rejects with an `AbortError`. */
  signal?: AbortSignal;
}

export interface WorkerPoolOptions {
  /** Threads at most; 0 for the default (`defaultMaxThreads()`). */
  maxThreads: number;
  /** Where workers' failures outside any task are reported. */
  log: Logger;
  /** How long a thread beyond the first may stay idle before it stops. */
  idleTimeoutMs?: number;
}

/** A task failed in its worker: it threw, its worker died, or its result could not be sent back. */
export class WorkerTaskError extends Error {
  readonly code: string;
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = 'WorkerTaskError';
    this.code = options.code ?? 'ORC_ERR_WORKER_TASK';
  }
}

/**
 * As many calls at once as the sample's `Pool(4)` on a small machine, and piscina's own default
 * (1.5 threads a core) on a larger one.
 */
export function defaultMaxThreads(): number {
  return Math.max(4, Math.ceil(availableParallelism() * 1.5));
}

/**
 * `bytes` as a view that owns its whole ArrayBuffer, so that `view.buffer` can be transferred:
 * the view itself when it does, a copy otherwise. A Node Buffer is often a slice of a shared
 * slab (Buffer's pool, or a larger download), and transferring that slab would empty every
 * other Buffer on it.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? new Uint8Array(bytes.buffer) : new Uint8Array(bytes);
}

const entry = new URL('./worker-entry.js', import.meta.url).href;

/**
 * The host's one pool of worker threads, on piscina. Threads start at the first task, not
 * before; `close()` stops them (tasks still running are rejected).
 */
export class WorkerPool implements Workers {
  private piscina: Piscina | undefined;
  private closed = false;
  private inFlight = 0;
  readonly maxThreads: number;

  constructor(private readonly options: WorkerPoolOptions) {
    this.maxThreads = options.maxThreads > 0 ? options.maxThreads : defaultMaxThreads();
  }

  /** Whether threads were started (the pool is lazy). */
  get started(): boolean {
    return this.piscina !== undefined;
  }

  /** Tasks submitted and not yet settled (running or queued). */
  get running(): number {
    return this.inFlight;
  }

  /** Tasks waiting for a free thread. */
  get queued(): number {
    return this.piscina?.queueSize ?? 0;
  }

  /** piscina's utilisation: the share of the threads' capacity spent running tasks since they started (0 to 1). */
  get utilization(): number {
    return this.piscina?.utilization ?? 0;
  }

  /** Threads alive now. */
  get threads(): number {
    return this.piscina?.threads.length ?? 0;
  }

  private start(): Piscina {
    const piscina = new Piscina({
      filename: entry,
      maxThreads: this.maxThreads,
      minThreads: 1,
      idleTimeout: this.options.idleTimeoutMs ?? 30_000,
    });
    // piscina emits 'error' when a worker fails with no task to blame; unheard, it would crash the host.
    piscina.on('error', (error: unknown) => this.options.log.error(`a worker thread failed: ${messageOf(error)}`));
    return piscina;
  }

  async run<Output = unknown>(task: URL, input: unknown, options: WorkerRunOptions = {}): Promise<Output> {
    // piscina would start new workers after destroy(), so the pool refuses on its own.
    if (this.closed) throw new WorkerTaskError('the worker pool is closed (the host is stopping)', { code: 'ORC_ERR_WORKER_POOL_CLOSED' });
    this.piscina ??= this.start();
    const request: TaskRequest = { task: task.href, input };
    this.inFlight += 1;
    try {
      return (await this.piscina.run(request, {
        transferList: options.transfer ? [...options.transfer] : undefined,
        signal: options.signal ?? null,
      })) as Output;
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError') throw error;
      if (this.closed)
        throw new WorkerTaskError('the worker pool was closed while the task ran', { cause: error, code: 'ORC_ERR_WORKER_POOL_CLOSED' });
      const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
      throw new WorkerTaskError(messageOf(error), { cause: error, code });
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Stops every thread; later `run` calls are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const piscina = this.piscina;
    this.piscina = undefined;
    await piscina?.destroy();
  }
}

function messageOf(error: unknown): string {
  // A result that cannot be cloned makes the worker's postMessage throw. Node 20 then rejects the
  // task with an empty object; Node 24 with an Error whose message was lost on the way (only its
  // stack still says "DataCloneError: ... could not be cloned").
  const unclonable = "the task's result could not be sent back from the worker (only structured-cloneable values can)";
  if (error instanceof Error) {
    if (error.message) return error.message;
    const firstLine = error.stack?.split('\n')[0] ?? '';
    return firstLine.startsWith('DataCloneError') ? `${unclonable}: ${firstLine}` : firstLine || error.name;
  }
  if (error && typeof error === 'object' && Object.keys(error).length === 0) return unclonable;
  return String(error);
}
