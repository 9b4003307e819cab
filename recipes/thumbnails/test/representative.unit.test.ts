import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OrthancHttpError, type OrthancBinding } from '../../../shared/binding/index.js';
import { Representatives } from '../representative.js';

/** A fake Orthanc with one series, whose answers can change; it counts the orderings asked for. */
function fakeOrthanc(state: { instances: string[]; lastUpdate: string; orderable: boolean }) {
  let orderings = 0;
  const binding = {
    async restApiGetJson(uri: string) {
      if (uri === '/series/s') return { ID: 's', Instances: state.instances, LastUpdate: state.lastUpdate };
      if (uri === '/series/s/ordered-slices') {
        orderings += 1;
        if (!state.orderable) throw new OrthancHttpError('GET', uri, 400, { Message: 'Cannot order the slices' });
        return { SlicesShort: state.instances.map((id) => [id, 0, 1]) };
      }
      if (uri === '/series/s/instances') return state.instances.map((ID, n) => ({ ID, IndexInSeries: state.instances.length - n }));
      throw new OrthancHttpError('GET', uri, 404, { Message: 'Unknown resource' });
    },
  };
  return { orthanc: binding as unknown as OrthancBinding, orderings: () => orderings };
}

describe('thumbnails: choosing the slice of a series (a fake Orthanc)', () => {
  it("keeps Orthanc's ordering until the series changes", async () => {
    const state = { instances: ['a', 'b', 'c'], lastUpdate: '20240601T101010', orderable: true };
    const { orthanc, orderings } = fakeOrthanc(state);
    const representatives = new Representatives(orthanc);
    assert.deepEqual(await representatives.ofSeries('s'), { instanceId: 'b', frame: 0 });
    assert.deepEqual(await representatives.ofSeries('s'), { instanceId: 'b', frame: 0 });
    assert.equal(orderings(), 1, 'asked once');
    state.instances = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(await representatives.ofSeries('s'), { instanceId: 'c', frame: 0 }, 'a new instance, in the same second');
    state.lastUpdate = '20240601T101011';
    await representatives.ofSeries('s');
    assert.equal(orderings(), 3, 'a new LastUpdate');
  });

  it('falls back on IndexInSeries when Orthanc cannot order the series, and says 404 for an unknown one', async () => {
    const { orthanc } = fakeOrthanc({ instances: ['a', 'b', 'c', 'd'], lastUpdate: 'x', orderable: false });
    const representatives = new Representatives(orthanc);
    // IndexInSeries runs backwards here: d=1, c=2, b=3, a=4; the middle of four is the third.
    assert.deepEqual(await representatives.ofSeries('s'), { instanceId: 'b', frame: 0 });
    await assert.rejects(representatives.ofSeries('unknown'), { status: 404 });
  });
});
