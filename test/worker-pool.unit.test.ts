import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { createLogger } from '../shared/binding/index.js';
import { ConfigError, validateConfig } from '../host/index.js';
import { WorkerPool, WorkerTaskError, defaultMaxThreads, ownBytes } from '../shared/worker-pool.js';
import type { TestTaskInput } from './helpers/worker-task.js';

const task = new URL('./helpers/worker-task.js', import.meta.url);
const logged: string[] = [];
const log = createLogger('workers', { level: 'debug', write: (line) => void logged.push(line) });

describe('the worker pool (piscina, compiled ESM task modules)', { timeout: 60_000 }, () => {
  const pool = new WorkerPool({ maxThreads: 3, log });
  const run = (input: TestTaskInput, transfer?: ArrayBuffer[]) => pool.run<Record<string, unknown>>(task, input, { transfer });
  after(() => pool.close());

  it('starts no thread before the first task', () => {
    assert.equal(pool.started, false);
    assert.equal(pool.threads, 0);
  });

  it('runs a task in another thread, moving bytes in and out rather than copying them', async () => {
    const input = new Uint8Array([1, 2, 3, 200]).buffer;
    const result = await run({ kind: 'double', bytes: input }, [input]);
    assert.equal(pool.started, true);
    assert.notEqual(result.threadId, threadId);
    assert.ok(result.bytes instanceof Uint8Array);
    assert.deepEqual([...result.bytes], [2, 4, 6, 144]);
    assert.equal(input.byteLength, 0, 'the input buffer was moved to the worker');
  });

  it("moves the result's bytes back rather than copying them", async () => {
    const pool1 = new WorkerPool({ maxThreads: 1, log });
    try {
      const result = await pool1.run<{ bytes: Uint8Array }>(task, { kind: 'double', bytes: new ArrayBuffer(64) } satisfies TestTaskInput);
      assert.equal(result.bytes.byteLength, 64);
      const after = await pool1.run<{ length: number }>(task, { kind: 'lastResultLength' } satisfies TestTaskInput);
      assert.equal(after.length, 0, "the worker's buffer is detached: it was moved");
    } finally {
      await pool1.close();
    }
  });

  it("rejects with the worker's message when a task throws, and keeps working", async () => {
    await assert.rejects(run({ kind: 'throw', message: 'bad input at byte 12' }), (error: unknown) => {
      assert.ok(error instanceof WorkerTaskError);
      assert.equal(error.message, 'bad input at byte 12');
      return true;
    });
    assert.equal((await run({ kind: 'double', bytes: new ArrayBuffer(2) })).threadId === threadId, false);
  });

  it('rejects when the worker dies, and replaces it', async () => {
    await assert.rejects(run({ kind: 'exit', code: 7 }), /worker exited with code: 7/);
    const results = await Promise.all([1, 2, 3].map(() => run({ kind: 'double', bytes: new ArrayBuffer(1) })));
    assert.equal(results.length, 3);
  });

  it('says so when a result cannot be sent back', async () => {
    await assert.rejects(run({ kind: 'unclonable' }), /could not be sent back/);
    await run({ kind: 'double', bytes: new ArrayBuffer(1) });
  });

  it('rejects a task module without a default export function', async () => {
    await assert.rejects(pool.run(new URL('../shared/worker-pool.js', import.meta.url), {}), /has no default export function/);
    await assert.rejects(pool.run(new URL('./helpers/no-such-task.js', import.meta.url), {}), /Cannot find module/);
  });

  it('runs MaxThreads tasks at once', async () => {
    const counter = new SharedArrayBuffer(4);
    const results = await Promise.all([1, 2, 3].map(() => run({ kind: 'rendezvous', counter, expected: 3 })));
    assert.equal(new Set(results.map((r) => r.threadId)).size, 3);
  });

  it('stops a task when its signal aborts, and replaces the worker', async () => {
    const gate = new SharedArrayBuffer(4);
    const controller = new AbortController();
    const blocked = pool.run(task, { kind: 'block', gate } satisfies TestTaskInput, { signal: controller.signal });
    controller.abort();
    await assert.rejects(blocked, { name: 'AbortError' });
    await run({ kind: 'double', bytes: new ArrayBuffer(1) });
  });

  it('logs nothing while tasks fail in the ways above (each failure went to its caller)', () => {
    assert.deepEqual(logged, []);
  });
});

describe('closing the worker pool', { timeout: 30_000 }, () => {
  it('rejects tasks still running and refuses new ones', async () => {
    const pool = new WorkerPool({ maxThreads: 1, log });
    const gate = new SharedArrayBuffer(4);
    const running = assert.rejects(pool.run(task, { kind: 'block', gate } satisfies TestTaskInput), {
      name: 'WorkerTaskError',
      code: 'ORC_ERR_WORKER_POOL_CLOSED',
    });
    await new Promise((resolve) => setImmediate(resolve));
    await pool.close();
    await running;
    await assert.rejects(pool.run(task, { kind: 'double', bytes: new ArrayBuffer(1) }), { code: 'ORC_ERR_WORKER_POOL_CLOSED' });
    assert.equal(pool.threads, 0);
  });

  it('closes quietly when it never started', async () => {
    const pool = new WorkerPool({ maxThreads: 0, log });
    await pool.close();
    assert.equal(pool.started, false);
  });
});

describe('sizing and bytes', () => {
  it("reads its size from the host's WorkerPool.MaxThreads (default 0: automatic)", async () => {
    assert.equal((await validateConfig({}, 'orthanc-recipes.json')).config.WorkerPool.MaxThreads, 0);
    assert.equal((await validateConfig({ WorkerPool: { MaxThreads: 6 } }, 'orthanc-recipes.json')).config.WorkerPool.MaxThreads, 6);
    await assert.rejects(validateConfig({ WorkerPool: { MaxThreads: -1 } }, 'orthanc-recipes.json'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /host: \/WorkerPool\/MaxThreads: must be >= 0/);
      return true;
    });
  });

  it("defaults to 1.5 threads a core, at least 4 (the sample's Pool(4))", () => {
    assert.ok(defaultMaxThreads() >= 4);
    assert.equal(new WorkerPool({ maxThreads: 0, log }).maxThreads, defaultMaxThreads());
    assert.equal(new WorkerPool({ maxThreads: 2, log }).maxThreads, 2);
  });

  it('ownBytes copies a view on part of a buffer and keeps a view on a whole one', () => {
    const pooled = Buffer.from('small, from the Buffer pool');
    assert.notEqual(pooled.buffer.byteLength, pooled.byteLength);
    const copy = ownBytes(pooled);
    assert.notEqual(copy.buffer, pooled.buffer);
    assert.equal(copy.buffer.byteLength, pooled.byteLength);
    assert.deepEqual(Buffer.from(copy), pooled);
    const whole = new Uint8Array(16);
    assert.equal(ownBytes(whole).buffer, whole.buffer);
  });
});
