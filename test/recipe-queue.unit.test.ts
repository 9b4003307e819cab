import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { queueOwner, recipeQueues } from '../shared/recipe-queue.js';
import { StateStore } from '../shared/state-store.js';
import { eventually } from './helpers/changes.js';

const folders: string[] = [];
const open = async (directory?: string) => {
  const folder = directory ?? (await mkdtemp(join(tmpdir(), 'orthanc-recipes-queue-')));
  folders.push(folder);
  const store = new StateStore(folder);
  return { folder, store, queues: recipeQueues(store.database(queueOwner('my-recipe'))) };
};

describe('recipe queues (shared/recipe-queue.ts), without Orthanc', () => {
  after(async () => {
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  it('hands values out in FIFO order; a reserved value is not handed out twice; acknowledge removes it', async () => {
    const { store, queues } = await open();
    const queue = queues('jobs');
    for (const value of ['a', 'b', 'c']) await queue.enqueue(value);
    assert.equal(await queue.size(), 3);
    const first = await queue.reserve(60);
    const second = await queue.reserve(60);
    assert.deepEqual([first?.value, second?.value], ['a', 'b']);
    assert.equal(first?.reservations, 1);
    assert.deepEqual(await queue.stats(), { Waiting: 1, Reserved: 2 });
    assert.equal(await queue.acknowledge(first.id), true);
    assert.equal(await queue.acknowledge(first.id), false, 'a second acknowledgement finds nothing');
    assert.equal(await queue.size(), 2);
    assert.equal((await queue.reserve(60))?.value, 'c');
    assert.equal(await queue.reserve(60), undefined, 'everything is reserved');
    store.close();
  });

  it('gives a value back when its reservation expires, at the front, counting reservations', async () => {
    const { store, queues } = await open();
    const queue = queues('expiring');
    await queue.enqueue('first');
    await queue.enqueue('second');
    const held = await queue.reserve(0.05);
    assert.equal(held?.value, 'first');
    let again: Awaited<ReturnType<typeof queue.reserve>>;
    await eventually(async () => (again = await queue.reserve(60))?.value === 'first', 5000, 'the expired value to come back first');
    assert.equal(again!.id, held.id);
    assert.equal(again!.reservations, 2);
    store.close();
  });

  it('release gives a value back at once', async () => {
    const { store, queues } = await open();
    const queue = queues('released');
    await queue.enqueue('x');
    const held = await queue.reserve(600);
    assert.equal(await queue.reserve(600), undefined);
    assert.equal(await queue.release(held!.id), true);
    assert.equal((await queue.reserve(600))?.id, held!.id);
    store.close();
  });

  it('is durable: values and reservations survive closing and reopening the database', async () => {
    const { folder, store, queues } = await open();
    const queue = queues('durable');
    await queue.enqueue('kept-1');
    await queue.enqueue('kept-2');
    const reserved = await queue.reserve(0.05);
    store.close(); // as if the host were killed while holding `kept-1`
    const reopened = await open(folder);
    const again = reopened.queues('durable');
    assert.equal(await again.size(), 2);
    await eventually(async () => (await again.stats()).Reserved === 0, 5000, 'the reservation to expire');
    assert.equal((await again.reserve(60))?.id, reserved!.id, 'the value held when the host died comes back first');
    assert.equal((await again.reserve(60))?.value, 'kept-2');
    reopened.store.close();
  });

  it('keeps queues apart by name and by recipe', async () => {
    const { store, queues } = await open();
    await queues('one').enqueue('1');
    const other = recipeQueues(store.database(queueOwner('other-recipe')));
    assert.equal(await queues('two').size(), 0);
    assert.equal(await other('one').size(), 0);
    assert.equal(queues('one'), queues('one'), 'the same object for the same name');
    store.close();
  });

  it('never hands one value to two concurrent reservers', async () => {
    const { store, queues } = await open();
    const queue = queues('race');
    for (let i = 0; i < 20; i += 1) await queue.enqueue(String(i));
    const got = await Promise.all(Array.from({ length: 30 }, () => queue.reserve(60)));
    const values = got.filter((item) => item !== undefined).map((item) => item.value);
    assert.equal(values.length, 20);
    assert.equal(new Set(values).size, 20);
    store.close();
  });

  it('work(): acknowledges what the handler finished, retries what it threw on, stops on abort', async () => {
    const { store, queues } = await open();
    const queue = queues('work');
    const done: string[] = [];
    const errors: string[] = [];
    let failOnce = true;
    const stop = new AbortController();
    const working = queue.work(
      async (value) => {
        if (value === 'flaky' && failOnce) {
          failOnce = false;
          throw new Error('not now');
        }
        done.push(value);
      },
      {
        signal: stop.signal,
        reserveSeconds: 0.05,
        concurrency: 3,
        idleMilliseconds: 20,
        onError: (error) => errors.push((error as Error).message),
      },
    );
    for (const value of ['a', 'flaky', 'b']) await queue.enqueue(value);
    await eventually(async () => done.length === 3 && (await queue.size()) === 0, 5000, 'every value handled');
    assert.deepEqual([...done].sort(), ['a', 'b', 'flaky']);
    assert.deepEqual(errors, ['not now']);
    stop.abort();
    await working;
    store.close();
  });

  it('refuses an empty name, a non-string value and a reservation of no time', async () => {
    const { store, queues } = await open();
    assert.throws(() => queues(''), TypeError);
    await assert.rejects(queues('q').enqueue({} as unknown as string), TypeError);
    await assert.rejects(queues('q').reserve(0), RangeError);
    store.close();
  });
});
