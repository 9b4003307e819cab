import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { compileMetadataFilter, nativeFromRegex } from '../patterns.js';

const hasPython = (() => {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('metadata-find patterns', () => {
  it(
    "matches regular expressions as Python's re.match does (anchored at the start only)",
    { skip: !hasPython && 'python3 is not installed' },
    () => {
      const patterns = [
        'al',
        'alice$',
        '(?i)alice',
        'a/b',
        'É',
        '.*',
        '^$',
        'x\\*y',
        '[ab]',
        '\\d{8}T',
        'RCP-SCU-(ONE|TWO)$',
        'a|b',
        '(a+)+$',
        'a.c',
        '\\w+-\\d',
        '(?i)é',
      ];
      const values = [
        'alice',
        'Alice',
        'ALICE',
        'bob',
        'a/b',
        'Éric',
        'éric',
        '',
        'x*y',
        '20240101T101010',
        'RCP-SCU-ONE',
        'RCP-SCU-TWOX',
        'abc',
        'aaaa',
        'foo-1',
        'É',
      ];
      const script =
        'import re, json, sys\nd = json.load(sys.stdin)\nprint(json.dumps([[bool(re.match(p, v)) for v in d["v"]] for p in d["p"]]))';
      const python: boolean[][] = JSON.parse(
        execFileSync('python3', ['-c', script], { input: JSON.stringify({ p: patterns, v: values }) }).toString(),
      );
      patterns.forEach((pattern, i) => {
        const filter = compileMetadataFilter('Reviewer', pattern, 'Regex', false);
        assert.deepEqual(
          values.map((value) => filter.test(value)),
          python[i],
          pattern,
        );
      });
    },
  );

  it("hands Orthanc's MetadataQuery only the regular expressions it answers the same way", () => {
    const table: [pattern: string, caseSensitive: boolean, native: string | undefined][] = [
      ['2024', false, '2024*'],
      ['^2024', false, '2024*'],
      ['^20240101T101010$', false, undefined], // a letter, and Orthanc would fold its case
      ['^20240101T101010$', true, '20240101T101010'],
      ['abc', true, 'abc*'],
      ['a\\.c', true, 'a.c*'],
      ['a\\-b/c', true, 'a-b/c*'],
      ['abc\\$', true, 'abc$*'],
      ['a.c', true, undefined],
      ['x\\*y', true, undefined], // `*` has no escape in MetadataQuery
      ['a\\\\b', true, undefined], // nor `\`, a list separator there
      ['(?i)abc', true, undefined],
      ['a|b', true, undefined],
      ['', false, ''], // everything, missing values too: no constraint at all
      ['^$', false, undefined], // only empty or missing values
      ['\\d+', true, undefined],
    ];
    for (const [pattern, caseSensitive, native] of table)
      assert.equal(nativeFromRegex(pattern, caseSensitive), native, `${pattern} (case-sensitive: ${caseSensitive})`);
  });

  it("hands Orthanc's MetadataQuery only the wildcards it answers the same way", () => {
    const table: [name: string, pattern: string, native: string | undefined][] = [
      ['Reviewer', 'al*', 'al*'],
      ['Reviewer', 'alice\\bob', 'alice\\bob'],
      ['Reviewer', '', ''],
      ['Reviewer', '*', undefined], // matches a missing value here, not in Orthanc
      ['Reviewer', 'alice\\', undefined], // an empty item: the same
      ['Reviewer', 'a-b', 'a-b'], // not a date: `-` is literal on both sides
      ['LastUpdate', '2024*', '2024*'],
      ['LastUpdate', '20240101-', undefined], // Orthanc has no ranges on metadata
      ['ReceptionDate', '-20241231', undefined],
    ];
    for (const [name, pattern, native] of table)
      assert.equal(compileMetadataFilter(name, pattern, 'Wildcard', false).native, native, `${name} ${pattern}`);
  });

  it('folds ASCII case only, in Wildcard mode, as Orthanc does', () => {
    const matches = (pattern: string, value: string, caseSensitive = false) =>
      compileMetadataFilter('Reviewer', pattern, 'Wildcard', caseSensitive).test(value);
    assert.equal(matches('ÉRIC', 'Éric'), true);
    assert.equal(matches('ÉRIC', 'éric'), false);
    assert.equal(matches('eric', 'Éric'), false);
    assert.equal(matches('eric', 'ERIC'), true);
    assert.equal(matches('eric', 'ERIC', true), false);
    assert.equal(matches('?ric', 'Éric'), true);
  });
});
