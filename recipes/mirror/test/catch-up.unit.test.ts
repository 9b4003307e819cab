import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecipeQueue } from '../../../shared/recipe-queue.js';
import { catchUp, type Lane, type Task } from '../lane.js';
import { emptyMirrored, levels, type Level, type Mirrored, type MirrorTarget } from '../targets.js';

/** Orthanc's index as `/{level}?expand&since&limit` pages it: ID and LastUpdate per resource. */
type Index = Partial<Record<Level, { ID: string; LastUpdate: string }[]>>;

/** A lane over a target holding `held`, whose queue records what the catch-up enqueues; `onEnqueue` runs after each. */
function laneOver(held: Partial<Record<Level, [string, string | null][]>>, onEnqueue: (queued: Task[]) => void = () => {}) {
  const queued: Task[] = [];
  const mirrored: Mirrored = emptyMirrored();
  for (const level of levels) for (const [id, lastUpdate] of held[level] ?? []) mirrored[level].set(id, lastUpdate);
  const target = { name: 'fake', mirrored: async () => mirrored } as unknown as MirrorTarget;
  const tasks = {
    enqueue: async (value: string) => {
      queued.push(JSON.parse(value) as Task);
      onEnqueue(queued);
      return String(queued.length);
    },
  } as unknown as RecipeQueue;
  const lane: Lane = { target, tasks, counts: { Upserted: 0, Deleted: 0, Failed: 0, CaughtUp: 0 } };
  return { lane, queued };
}

function orthancWith(index: Index) {
  return {
    restApiGetJson: async <T>(uri: string): Promise<T> => {
      const [, level, since, limit] = /^\/(\w+)\?expand&since=(\d+)&limit=(\d+)$/.exec(uri)!;
      return (index[level as Level] ?? []).slice(Number(since), Number(since) + Number(limit)) as T;
    },
  };
}

const at = (time: string) => `20261205T${time}`;

describe('mirror: the catch-up at start', () => {
  it('queues what the target lacks or holds older, and removals for what Orthanc no longer has; skips what is current', async () => {
    const index: Index = {
      patients: [{ ID: 'p1', LastUpdate: at('100000') }],
      studies: [
        { ID: 's-current', LastUpdate: at('100000') },
        { ID: 's-newer', LastUpdate: at('110000') },
        { ID: 's-missing', LastUpdate: at('100000') },
      ],
    };
    const { lane, queued } = laneOver({
      patients: [['p1', at('100000')]],
      studies: [
        ['s-current', at('100000')],
        ['s-newer', at('100000')],
        ['s-deleted', at('090000')],
      ],
      instances: [['i-deleted', null]],
    });
    await catchUp(orthancWith(index), lane, new AbortController().signal);
    assert.deepEqual(queued, [
      { action: 'upsert', level: 'studies', id: 's-newer' },
      { action: 'upsert', level: 'studies', id: 's-missing' },
      { action: 'delete', level: 'studies', id: 's-deleted' },
      { action: 'delete', level: 'instances', id: 'i-deleted' },
    ]);
    assert.equal(lane.counts.CaughtUp, 4);
  });

  it('an aborted catch-up queues no removal: the rows it had not reached are still in Orthanc, as far as it knows', async () => {
    // 1,500 studies: two pages. The recipe stops while the first is read.
    const studies = Array.from({ length: 1500 }, (_, n) => ({ ID: `s${n}`, LastUpdate: at('100000') }));
    const stop = new AbortController();
    const { lane, queued } = laneOver(
      {
        patients: [['p-deleted', null]],
        studies: studies.map(({ ID }) => [ID, null] as [string, string | null]),
      },
      (sofar) => sofar.filter((task) => task.level === 'studies').length === 10 && stop.abort(),
    );
    await catchUp(orthancWith({ studies }), lane, stop.signal);
    assert.deepEqual(
      queued.filter((task) => task.action === 'delete'),
      [{ action: 'delete', level: 'patients', id: 'p-deleted' }],
      'only the level it finished',
    );
    assert.equal(queued.filter((task) => task.level === 'studies').length, 10);
    assert.ok(!queued.some((task) => task.level === 'series' || task.level === 'instances'));
  });
});
