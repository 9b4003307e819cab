import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChangeType, createLogger, ResourceType, type OrthancBinding, type RawAnswer } from '../../../shared/binding/index.js';
import { MetadataIndex } from '../metadata-index.js';
import { MetadataReader } from '../metadata-reader.js';

/** A binding whose /tools/bulk-content answers only when the test says so. */
function gatedBinding(answer: () => object[]) {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let asked: () => void = () => undefined;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  const binding = {
    async restApiRequest(): Promise<RawAnswer> {
      asked();
      await gate;
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(answer())) };
    },
  } as unknown as OrthancBinding;
  return { binding, requested, open };
}

describe('MetadataIndex, with a binding the test controls', () => {
  it('does not keep a map whose read started before a change of its level (the late answer may be stale)', async () => {
    const index = new MetadataIndex(100);
    const { binding, requested, open } = gatedBinding(() => [{ ID: 'study-1', Metadata: { Reviewer: 'before' } }]);
    const reader = new MetadataReader(
      binding,
      { mode: 'Bulk', concurrency: 1, batchSize: 10 },
      createLogger('test', { level: 'error' }),
      index,
    );
    const found = new Map();
    const reading = reader.readBatches('studies', [['study-1']], found, () => false);
    await requested;
    index.onChange(ChangeType.UPDATED_METADATA, ResourceType.STUDY, 'study-1'); // Orthanc changed it meanwhile
    open();
    await reading;
    assert.deepEqual(found.get('study-1'), { Reviewer: 'before' }, 'this query gets what Orthanc answered');
    assert.equal(index.get('studies', 'study-1'), undefined, 'the index does not keep it');
  });

  it('keeps a map read with no change meanwhile, and serves it without asking Orthanc again', async () => {
    const index = new MetadataIndex(100);
    let calls = 0;
    const { binding, open } = gatedBinding(() => ((calls += 1), [{ ID: 'series-1', Metadata: { Reviewer: 'kept' } }]));
    open();
    const reader = new MetadataReader(
      binding,
      { mode: 'Bulk', concurrency: 1, batchSize: 10 },
      createLogger('test', { level: 'error' }),
      index,
    );
    for (let round = 0; round < 2; round += 1) {
      const found = new Map();
      await reader.readBatches('series', [['series-1']], found, () => false);
      assert.deepEqual(found.get('series-1'), { Reviewer: 'kept' });
    }
    assert.equal(calls, 1);
    index.onChange(ChangeType.NEW_INSTANCE, ResourceType.INSTANCE, 'instance-9');
    assert.equal(index.get('series', 'series-1'), undefined, "a new instance drops the ancestors' maps");
  });
});
