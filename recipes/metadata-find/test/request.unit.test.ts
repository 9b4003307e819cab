import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pacer } from '../../../shared/pacer.js';
import { BadFindRequest, parseFindRequest } from '../request.js';

// The fast tier: how a /tools/find body is read (no Orthanc). metadata-find.test.ts runs the
// recipe against a real Orthanc.

const pacer = new Pacer();
const parse = (body: unknown, maxPatternLength = 64) =>
  parseFindRequest(
    Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    { maxPatternLength, maxConstraints: 64, maxCompiledSize: 10_000 },
    pacer,
  );

describe('metadata-find: parseFindRequest', () => {
  const notOurs: { name: string; body: unknown }[] = [
    { name: 'a body without Metadata', body: { Level: 'Study', Query: {} } },
    { name: 'a JSON array', body: [1, 2] },
    { name: 'JSON null', body: 'null' },
  ];
  for (const c of notOurs) it(`leaves ${c.name} to Orthanc`, async () => assert.equal(await parse(c.body), undefined));

  const levels: [string, string][] = [
    ['Study', 'studies'],
    ['studies', 'studies'],
    ['PATIENT', 'patients'],
    ['Series', 'series'],
    ['instance', 'instances'],
  ];
  for (const [level, path] of levels) {
    it(`reads Level ${JSON.stringify(level)} as /${path}, as Orthanc does`, async () =>
      assert.equal((await parse({ Level: level, Metadata: {} }))?.levelPath, path));
  }

  it('takes Metadata, MetadataMatching, Limit and Since out of what goes to Orthanc, and keeps the rest', async () => {
    const query = await parse({
      Level: 'Study',
      Query: { PatientID: 'P*' },
      Expand: true,
      CaseSensitive: true,
      Limit: 5,
      Since: 10,
      MetadataMatching: 'Wildcard',
      Metadata: { Reviewer: 'dr*' },
    });
    assert.ok(query);
    assert.deepEqual(query.forwarded, { Level: 'Study', Query: { PatientID: 'P*' }, Expand: true, CaseSensitive: true });
    assert.deepEqual([query.expand, query.caseSensitive, query.limit, query.since], [true, true, 5, 10]);
    assert.equal(query.filters.length, 1);
  });

  it('defaults to Regex matching, no limit, case-insensitive, not expanded', async () => {
    const query = await parse({ Level: 'Study', Metadata: {} });
    assert.deepEqual(query && [query.expand, query.caseSensitive, query.limit, query.since, query.filters.length], [false, false, 0, 0, 0]);
  });

  const refused: { name: string; body: unknown; field: string; message?: RegExp }[] = [
    { name: 'a body that is not JSON', body: '{"Level":', field: 'body', message: /not JSON/ },
    { name: 'a missing Level', body: { Metadata: {} }, field: 'Level' },
    { name: 'an unknown Level', body: { Level: 'Frame', Metadata: {} }, field: 'Level', message: /got "Frame"/ },
    { name: 'an unknown MetadataMatching', body: { Level: 'Study', MetadataMatching: 'Glob', Metadata: {} }, field: 'MetadataMatching' },
    { name: 'Expand as a string', body: { Level: 'Study', Expand: 'true', Metadata: {} }, field: 'Expand' },
    { name: 'CaseSensitive as a number', body: { Level: 'Study', CaseSensitive: 1, Metadata: {} }, field: 'CaseSensitive' },
    { name: 'a negative Limit', body: { Level: 'Study', Limit: -1, Metadata: {} }, field: 'Limit' },
    { name: 'a fractional Since', body: { Level: 'Study', Since: 1.5, Metadata: {} }, field: 'Since' },
    { name: 'Metadata as an array', body: { Level: 'Study', Metadata: ['a'] }, field: 'Metadata' },
    { name: 'a pattern that is not a string', body: { Level: 'Study', Metadata: { Reviewer: 3 } }, field: 'Metadata.Reviewer' },
    {
      name: 'a pattern longer than MaxPatternLength',
      body: { Level: 'Study', Metadata: { Reviewer: 'x'.repeat(65) } },
      field: 'Metadata.Reviewer',
      message: /65 characters long; at most 64/,
    },
    {
      name: 'a regular expression that does not compile',
      body: { Level: 'Study', Metadata: { Reviewer: '(' } },
      field: 'Metadata.Reviewer',
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}, naming the field ${c.field}`, async () => {
      await assert.rejects(
        () => parse(c.body),
        (error: unknown) => error instanceof BadFindRequest && error.field === c.field && (!c.message || c.message.test(error.message)),
      );
    });
  }
});
