import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDicomText } from '../charset.js';
import { formatDump, keywordOf, punctuate } from '../format-text.js';
import type { RawDataset } from '../parse.js';

// The fast tier: dicom-dump's text formatting on datasets written by hand (no Orthanc, no
// file). dicom-dump.test.ts compares whole dumps of real files with pydicom's.

const meta: RawDataset = { '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] } };
/** The dataset's lines (after the file meta information and its ruler). */
const dump = (dataset: RawDataset, fileMeta = meta) => formatDump(fileMeta, dataset).trimEnd().split('\n').slice(3);

describe('dicom-dump: tags and keywords', () => {
  const tags: [string, string, string][] = [
    ['00100010', '(0010,0010)', 'PatientName'],
    ['7fe00010', '(7FE0,0010)', 'PixelData'],
    ['60003000', '(6000,3000)', 'OverlayData'],
    ['60023000', '(6002,3000)', 'OverlayData'],
    ['00090010', '(0009,0010)', 'PrivateCreator'],
    ['00091001', '(0009,1001)', 'PrivateTagData'],
    ['00080000', '(0008,0000)', 'GroupLength'],
  ];
  for (const [tag, punctuated, keyword] of tags) {
    it(`${tag} is ${punctuated} ${keyword}`, () => {
      assert.equal(punctuate(tag), punctuated);
      assert.equal(keywordOf(tag), keyword);
    });
  }
});

describe('dicom-dump: values, as pydicom shows them', () => {
  const cases: { name: string; dataset: RawDataset; line: RegExp }[] = [
    {
      name: 'a string, its padding dropped',
      dataset: { '00080060': { vr: 'CS', Value: ['CT '] } },
      line: /^\(0008,0060\) Modality\s+CS: 'CT'$/,
    },
    {
      name: 'a UID without quotes nor trailing NUL',
      dataset: { '00080016': { vr: 'UI', Value: ['1.2.3\0'] } },
      line: /^\(0008,0016\) SOPClassUID\s+UI: 1\.2\.3$/,
    },
    {
      name: 'a person name by its groups',
      dataset: { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] } },
      line: /PN: 'Doe\^John'$/,
    },
    { name: 'a DS as the file wrote it', dataset: { '00180050': { vr: 'DS', Value: [2.5], _rawValue: ['2.50 '] } }, line: /DS: '2\.50'$/ },
    { name: 'several values as a list', dataset: { '00280030': { vr: 'DS', Value: [0.5, 0.5] } }, line: /DS: \[0\.5, 0\.5\]$/ },
    { name: 'an empty string value', dataset: { '00081030': { vr: 'LO', Value: [] } }, line: /LO: ''$/ },
    { name: 'an empty number value', dataset: { '00280010': { vr: 'US', Value: [] } }, line: /US: None$/ },
    { name: 'a quote and a new line escaped', dataset: { '00204000': { vr: 'LT', Value: ["it's\nhere"] } }, line: /LT: 'it\\'s\\nhere'$/ },
    {
      name: 'a long text cut, with its length',
      dataset: { '00204000': { vr: 'LT', Value: ['a'.repeat(200)] } },
      line: /LT: 'a{128}… \(200 characters\)'$/,
    },
    {
      name: 'a few bytes shown byte by byte',
      dataset: { '00091001': { vr: 'OB', Value: [new Uint8Array([1, 0xff]).buffer] } },
      line: /OB: b'\\x01\\xff'$/,
    },
    {
      name: 'many bytes summarized',
      dataset: { '00091001': { vr: 'OB', Value: [new ArrayBuffer(1000)] } },
      line: /OB: Array of 1000 bytes$/,
    },
    { name: 'an attribute tag punctuated', dataset: { '00209165': { vr: 'AT', Value: [0x00100010] } }, line: /AT: \(0010,0010\)$/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const lines = dump(c.dataset);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, c.line);
    });
  }

  it('indents sequence items and sorts elements by tag', () => {
    const lines = dump({
      '00200013': { vr: 'IS', Value: [1] },
      '00081115': { vr: 'SQ', Value: [{ '0020000E': { vr: 'UI', Value: ['1.2'] } }] },
    });
    assert.match(lines[0]!, /^\(0008,1115\) ReferencedSeriesSequence\s+SQ: 1 item\(s\) ----$/);
    assert.match(lines[1]!, /^ {3}\(0020,000E\) SeriesInstanceUID\s+UI: 1\.2$/);
    assert.equal(lines[2], '   ---------');
    assert.match(lines[3]!, /^\(0020,0013\) InstanceNumber\s+IS: 1$/);
  });

  it('summarizes compressed pixel data by frames', () => {
    const jpeg = { '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.4.50'] } };
    const lines = dump({ '7FE00010': { vr: 'OB', Value: [new ArrayBuffer(10), new ArrayBuffer(20)] } }, jpeg);
    assert.match(lines[0]!, /OB: Encapsulated: 2 frame\(s\), 30 bytes$/);
  });

  it('writes the file meta information first, between rulers', () => {
    const text = formatDump(meta, {});
    assert.match(text, /^Dataset\.file_meta -+\n\(0002,0010\) TransferSyntaxUID\s+UI: 1\.2\.840\.10008\.1\.2\.1\n-+\n$/);
  });
});

describe('dicom-dump: character sets', () => {
  const cases: { name: string; bytes: number[]; charsets: string[]; text: string }[] = [
    { name: 'UTF-8 (ISO_IR 192)', bytes: [0x4a, 0xc3, 0xa9], charsets: ['ISO_IR 192'], text: 'Jé' },
    { name: 'Latin-1 (ISO_IR 100)', bytes: [0x4a, 0xe9], charsets: ['ISO_IR 100'], text: 'Jé' },
    { name: 'the default repertoire', bytes: [0x41, 0x42], charsets: [], text: 'AB' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(decodeDicomText(new Uint8Array(c.bytes), c.charsets), c.text));
});
