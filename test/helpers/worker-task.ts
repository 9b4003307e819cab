import { threadId } from 'node:worker_threads';

/** Inputs of the test task module run by test/worker-pool.unit.test.ts. */
export type TestTaskInput =
  | { kind: 'double'; bytes: ArrayBuffer }
  | { kind: 'lastResultLength' }
  | { kind: 'throw'; message: string }
  | { kind: 'exit'; code: number }
  | { kind: 'unclonable' }
  | { kind: 'rendezvous'; counter: SharedArrayBuffer; expected: number }
  | { kind: 'block'; gate: SharedArrayBuffer };

let lastResult: Uint8Array | undefined;

/** A task module for the pool's tests; each `kind` exercises one behaviour. */
export default function testTask(input: TestTaskInput): unknown {
  switch (input.kind) {
    case 'double': {
      const bytes = new Uint8Array(input.bytes);
      const out = new Uint8Array(bytes.length);
      for (let i = 0; i < bytes.length; i += 1) out[i] = (bytes[i]! * 2) & 0xff;
      lastResult = out;
      return { bytes: out, threadId };
    }
    case 'lastResultLength':
      // 0 once the last result's buffer was moved to the main thread (it is detached here).
      return { length: lastResult?.byteLength, threadId };
    case 'throw':
      throw new RangeError(input.message);
    case 'exit':
      process.exit(input.code);
    // falls through (never reached)
    case 'unclonable':
      return { callback: () => 1 };
    case 'rendezvous': {
      // Arrives, then waits until `expected` tasks have arrived: only tasks running at once can meet.
      const counter = new Int32Array(input.counter);
      Atomics.add(counter, 0, 1);
      Atomics.notify(counter, 0);
      for (;;) {
        const arrived = Atomics.load(counter, 0);
        if (arrived >= input.expected) return { threadId };
        if (Atomics.wait(counter, 0, arrived, 30_000) === 'timed-out')
          throw new Error(`only ${arrived} of ${input.expected} tasks ran at once`);
      }
    }
    case 'block': {
      const gate = new Int32Array(input.gate);
      Atomics.wait(gate, 0, 0, 30_000);
      return { threadId };
    }
  }
}
