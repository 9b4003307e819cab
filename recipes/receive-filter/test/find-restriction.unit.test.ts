import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restrictFindQuery } from '../find-restriction.js';

describe('receive-filter: a C-FIND restriction', () => {
  const north = { StudyDescription: 'NORTH*' };
  const study = (keys: Record<string, string>) => ({ '0008,0052': 'STUDY', '0010,0020': '', ...keys });

  it('imposes its pattern on a key the caller leaves open', () => {
    for (const open of [{} as Record<string, string>, { '0008,1030': '' }, { '0008,1030': '*' }, { '0008,1030': ' ** ' }]) {
      assert.deepEqual(restrictFindQuery(study(open), north), { query: study({ '0008,1030': 'NORTH*' }) });
    }
    assert.deepEqual(restrictFindQuery({ '0008,0052': 'IMAGE' }, north), { query: { '0008,0052': 'IMAGE', '0008,1030': 'NORTH*' } });
  });

  it("keeps the caller's exact values within the restriction, and refuses anything else rather than widen it", () => {
    assert.deepEqual(restrictFindQuery(study({ '0008,1030': 'NORTH CT\\NORTH MR' }), north), {
      query: study({ '0008,1030': 'NORTH CT\\NORTH MR' }),
    });
    for (const asked of ['SOUTH CT', 'NORTH CT\\SOUTH CT', '*CT', 'NORTH*', 'NORT?', 'north ct']) {
      assert.ok('refused' in restrictFindQuery(study({ '0008,1030': asked }), north), asked);
    }
    const dates = { StudyDate: '2024*' };
    assert.ok('query' in restrictFindQuery(study({ '0008,0020': '20240301' }), dates));
    assert.ok('refused' in restrictFindQuery(study({ '0008,0020': '20240101-20240301' }), dates));
  });

  it("refuses a query above the restriction's level, or without a level", () => {
    assert.deepEqual(restrictFindQuery({ '0008,0052': 'PATIENT', '0010,0020': '' }, north), {
      refused: 'a PATIENT query under a restriction on StudyDescription',
    });
    assert.ok('query' in restrictFindQuery({ '0008,0052': 'PATIENT' }, { PatientID: 'N*' }));
    assert.ok('refused' in restrictFindQuery({ '0010,0020': '' }, north));
  });
});
