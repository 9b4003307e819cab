import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResourceType } from '../shared/binding/index.js';
import {
  findResources,
  formatOrthancTime,
  levelOfResourceType,
  levelPath,
  listResources,
  resourcePages,
  parentLevel,
  parseLevel,
  parseOrthancTime,
  shiftOrthancTime,
} from '../shared/orthanc-resources.js';

describe('orthanc-resources: levels', () => {
  const parsed: [string, string | undefined][] = [
    ['Study', 'Study'],
    ['studies', 'Study'],
    ['SERIES', 'Series'],
    ['patient', 'Patient'],
    ['Instances', 'Instance'],
    ['frame', undefined],
    ['', undefined],
    ['__proto__', undefined],
  ];
  for (const [text, level] of parsed) it(`reads ${JSON.stringify(text)} as ${level}`, () => assert.equal(parseLevel(text), level));

  it('maps levels to URI segments and back, and resource types to levels', () => {
    for (const [level, path] of Object.entries(levelPath)) assert.equal(parseLevel(path), level);
    assert.equal(levelOfResourceType(ResourceType.SERIES), 'Series');
    assert.equal(levelOfResourceType(ResourceType.NONE), undefined);
    assert.deepEqual((['Patient', 'Study', 'Series', 'Instance'] as const).map(parentLevel), [undefined, 'Patient', 'Study', 'Series']);
  });
});

describe("orthanc-resources: Orthanc's time format", () => {
  it('formats and parses YYYYMMDDTHHMMSS in UTC', () => {
    const date = new Date(Date.UTC(2026, 11, 5, 9, 7, 3, 999));
    assert.equal(formatOrthancTime(date), '20261205T090703');
    assert.equal(parseOrthancTime('20261205T090703')?.toISOString(), '2026-12-05T09:07:03.000Z');
  });
  const malformed = ['2026-12-05T09:07:03', '20261205', '20261305T000000', '20260230T000000', '20261205T240000', '20261205T236000', 'x'];
  for (const text of malformed) it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseOrthancTime(text), undefined));
  const shifts: [string, number, string][] = [
    ['20261205T120000', -600, '20261205T115000'],
    ['20261231T235959', 1, '20270101T000000'],
    ['20240301T000000', -86_400, '20240229T000000'],
    ['20240301T001500', -86_400, '20240229T001500'],
    ['20250101T000000', -1, '20241231T235959'],
    ['nonsense', 60, ''],
  ];
  for (const [time, seconds, shifted] of shifts)
    it(`${time} ${seconds} s is ${JSON.stringify(shifted)}`, () => assert.equal(shiftOrthancTime(time, seconds), shifted));
});

describe('orthanc-resources: listResources', () => {
  const fake = (count: number) => {
    const uris: string[] = [];
    const all = Array.from({ length: count }, (_, i) => ({ ID: `r-${i}` }));
    return {
      uris,
      restApiGetJson: async <T>(uri: string) => {
        uris.push(uri);
        const query = new URLSearchParams(uri.slice(uri.indexOf('?') + 1));
        const since = Number(query.get('since'));
        return all.slice(since, since + Number(query.get('limit'))) as T;
      },
    };
  };
  const collect = async <T>(items: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const item of items) out.push(item);
    return out;
  };

  const cases: [number, number, string[]][] = [
    [0, 2, ['/studies?expand&since=0&limit=2']],
    [3, 2, ['/studies?expand&since=0&limit=2', '/studies?expand&since=2&limit=2']],
    [4, 2, ['/studies?expand&since=0&limit=2', '/studies?expand&since=2&limit=2', '/studies?expand&since=4&limit=2']],
  ];
  for (const [count, pageSize, uris] of cases) {
    it(`${count} resources by pages of ${pageSize}: ${uris.length} request(s)`, async () => {
      const orthanc = fake(count);
      const listed = await collect(listResources(orthanc, 'Study', { pageSize }));
      assert.deepEqual(
        listed.map((r) => r.ID),
        Array.from({ length: count }, (_, i) => `r-${i}`),
      );
      assert.deepEqual(orthanc.uris, uris);
    });
  }

  const pageCases: [number, number, number[]][] = [
    [0, 2, []],
    [4, 2, [2, 2]],
    [5, 2, [2, 2, 1]],
  ];
  for (const [count, pageSize, sizes] of pageCases) {
    it(`resourcePages: ${count} resources by pages of ${pageSize} come as pages of ${JSON.stringify(sizes)}, each requested when asked for`, async () => {
      const orthanc = fake(count);
      const pages: number[] = [];
      for await (const page of resourcePages(orthanc, 'Study', { pageSize })) {
        pages.push(page.length);
        assert.equal(orthanc.uris.length, pages.length, 'no request ahead of the page asked for');
      }
      assert.deepEqual(pages, sizes);
    });
  }

  it('findResources pages /tools/find with Since and Limit in the body, the query kept, until a short page', async () => {
    const bodies: Record<string, unknown>[] = [];
    const all = Array.from({ length: 5 }, (_, i) => ({ ID: `r-${i}` }));
    const orthanc = {
      restApiPostJson: async <T>(uri: string, body: unknown) => {
        assert.equal(uri, '/tools/find');
        const query = body as { Since: number; Limit: number };
        bodies.push(query);
        return all.slice(query.Since, query.Since + query.Limit) as T;
      },
    };
    const order = [{ Type: 'Metadata', Key: 'LastUpdate', Direction: 'DESC' }] as const;
    const found = await collect(findResources(orthanc, { Level: 'Series', Expand: true, OrderBy: order }, { pageSize: 2 }));
    assert.deepEqual(
      found.map((r) => r.ID),
      ['r-0', 'r-1', 'r-2', 'r-3', 'r-4'],
    );
    assert.deepEqual(
      bodies,
      [0, 2, 4].map((since) => ({ Level: 'Series', Query: {}, Expand: true, OrderBy: order, Since: since, Limit: 2 })),
    );
    await assert.rejects(collect(findResources(orthanc, { Level: 'Study' }, { pageSize: 0.5 })), RangeError);
  });

  it('lists IDs without expand, and stops between pages once aborted', async () => {
    const orthanc = fake(5);
    const controller = new AbortController();
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const resource of listResources(orthanc, 'Series', { pageSize: 2, expand: false, signal: controller.signal })) {
        seen.push(resource.ID);
        controller.abort(new Error('stop'));
      }
    }, /stop/);
    assert.deepEqual(orthanc.uris, ['/series?since=0&limit=2']);
    assert.deepEqual(seen, ['r-0', 'r-1']);
  });

  it('refuses a page size below 1', async () => {
    await assert.rejects(collect(listResources(fake(1), 'Study', { pageSize: 0 })), RangeError);
  });
});

// Imports hoist: this one stays next to the cases it serves (a separate block, to merge apart).
import { levelPathOfResourceType, pageOfList } from '../shared/orthanc-resources.js';

describe('orthanc-resources: pageOfList and levelPathOfResourceType (metadata-find)', () => {
  it("applies Since then Limit as Orthanc's /tools/find does; Limit 0 is no limit", () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(pageOfList(items, 0, 0), items);
    assert.deepEqual(pageOfList(items, 1, 2), ['b', 'c']);
    assert.deepEqual(pageOfList(items, 3, 0), ['d', 'e']);
    assert.deepEqual(pageOfList(items, 4, 10), ['e']);
    assert.deepEqual(pageOfList(items, 9, 1), []);
    for (const [since, limit] of [
      [-1, 0],
      [0, -1],
      [0.5, 1],
      [0, Number.NaN],
    ] as const)
      assert.throws(() => pageOfList(items, since, limit), RangeError);
  });

  it('gives the URI segment of each level of resource type, undefined for the others', () => {
    assert.equal(levelPathOfResourceType(ResourceType.PATIENT), 'patients');
    assert.equal(levelPathOfResourceType(ResourceType.STUDY), 'studies');
    assert.equal(levelPathOfResourceType(ResourceType.SERIES), 'series');
    assert.equal(levelPathOfResourceType(ResourceType.INSTANCE), 'instances');
    assert.equal(levelPathOfResourceType(ResourceType.NONE), undefined);
  });
});
