import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../../../host/index.js';
import { generateStudy, writeLargeInstance } from '../../../test/helpers/dicom.js';
import { startHostInProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import dumpTask from '../dump-task.js';
import { expectedFromDcmdump, parseRecipeDump } from './compare.js';
import { charsetDump, convert, dcmdump, dump2dcm, everyVrDump } from './fixtures.js';

const ownCopy = (bytes: Uint8Array) => new Uint8Array(bytes).buffer;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('recipe dicom-dump, against a real Orthanc', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;
  let folder: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    ({ host, url } = await startHostInProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { 'dicom-dump': { Enabled: true, MaxFileMegabytes: 1 } },
    }));
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-dump-'));
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  /** Stores `file` in Orthanc; resolves with its ID and the file as Orthanc keeps it. */
  async function store(file: string): Promise<{ id: string; stored: string }> {
    const { ID, Status } = await orthanc.upload(await readFile(file));
    assert.equal(Status, 'Success', `${file} is a new instance (not one Orthanc already holds in another encoding)`);
    const stored = join(folder, `${ID}.dcm`);
    await writeFile(stored, Buffer.from(await (await fetch(`${orthanc.url}/instances/${ID}/file`)).arrayBuffer()));
    return { id: ID, stored };
  }

  async function dump(id: string, query = ''): Promise<string> {
    const response = await rawRequest(`${url}/instances/${id}/dcmjs${query}`);
    assert.equal(response.status, 200, response.body.toString());
    return response.body.toString('utf8');
  }

  /** The recipe's dump against dcmdump's, element by element (depth, tag, VR, keyword, value). */
  async function expectSameAsDcmdump(id: string, stored: string, utf8 = false): Promise<void> {
    const ours = parseRecipeDump(await dump(id));
    const reference = expectedFromDcmdump(await dcmdump(stored, utf8));
    assert.equal(ours.length, reference.length, 'as many elements as dcmdump shows');
    reference.forEach((expected, i) => {
      const seen = ours[i]!;
      const where = `element ${i}: ${expected.tag}`;
      assert.equal(seen.tag, expected.tag, where);
      assert.equal(seen.depth, expected.depth, where);
      // dcmtk writes "??" for a VR it cannot know (implicit VR, a tag missing from its dictionary).
      if (expected.vr === '??') return;
      assert.equal(seen.vr, expected.vr, where);
      assert.equal(seen.value, expected.value, where);
      if (!/Unknown Tag/.test(expected.keyword)) assert.equal(seen.keyword, expected.keyword, where);
    });
  }

  it('dumps every VR, private tags, nested sequences and a multi-frame image as dcmdump reads them', async () => {
    const file = await dump2dcm(folder, 'every-vr', everyVrDump('1.2.826.0.1.3680043.10.1391.88.1'));
    const { id, stored } = await store(file);
    await expectSameAsDcmdump(id, stored);
    const text = await dump(id);
    assert.match(text, /^Dataset\.file_meta -{31}\n\(0002,0000\) FileMetaInformationGroupLength +UL: \d+\n/);
    assert.match(text, /\n-{49}\n\(0008,0005\) SpecificCharacterSet +CS: 'ISO_IR 192'\n/);
    assert.match(
      text,
      /\n\(0040,0275\) RequestAttributesSequence +SQ: 2 item\(s\) ----\n {3}\(0040,0007\) ScheduledProcedureStepDescription +LO: 'Première étape'\n {3}\(0040,0008\) ScheduledProtocolCodeSequence +SQ: 1 item\(s\) ----\n {6}\(0008,0100\) CodeValue +SH: 'CODE1'\n/,
    );
    assert.match(text, /\(0008,030E\) PrivateDataElementDescription +UT: 'A long text .{90,} … \(197 characters\)'\n/);
    assert.match(text, /\(7FE0,0010\) PixelData +OW: Array of 96 bytes\n/);
    assert.equal(host.workers.started, true, 'parsed in the worker pool');
  });

  for (const [n, [name, tool, options, transferSyntax]] of (
    [
      ['big endian', 'dcmconv', ['+tb'], '1.2.840.10008.1.2.2'],
      ['implicit VR', 'dcmconv', ['+ti'], '1.2.840.10008.1.2'],
      ['deflated', 'dcmconv', ['+td'], '1.2.840.10008.1.2.1.99'],
      ['undefined lengths', 'dcmconv', ['-e'], '1.2.840.10008.1.2.1'],
      ['RLE, multi-frame', 'dcmcrle', [], '1.2.840.10008.1.2.5'],
    ] as const
  ).entries()) {
    it(`dumps the same elements written ${name} as dcmdump reads them`, async () => {
      const slug = `every-vr-${name.replace(/\W+/g, '-')}`;
      const source = await dump2dcm(folder, `${slug}-source`, everyVrDump(`1.2.826.0.1.3680043.10.1391.88.${2 + n}`));
      const { id, stored } = await store(await convert(folder, tool, [...options], source, slug));
      assert.equal((await orthanc.json('GET', `/instances/${id}/metadata?expand`)).TransferSyntax, transferSyntax);
      await expectSameAsDcmdump(id, stored);
      if (name === 'undefined lengths') assert.match(await dcmdump(stored), /Sequence with undefined length/);
    });
  }

  it('dumps compressed pixel data (JPEG lossless, JPEG-LS) as their fragments', async () => {
    const cts = generateStudy({
      patientId: 'DUMP-CT',
      patientName: 'Dump^Ct',
      studyDate: '20240801',
      series: [{ modality: 'CT', instances: 2 }],
      size: 32,
    });
    for (const [n, [tool, name]] of (
      [
        ['dcmcjpeg', 'ct-jpeg'],
        ['dcmcjpls', 'ct-jpeg-ls'],
      ] as const
    ).entries()) {
      const source = join(folder, `${name}-source.dcm`);
      await writeFile(source, cts[n]!.file);
      const { id, stored } = await store(await convert(folder, tool, [], source, name));
      await expectSameAsDcmdump(id, stored);
      assert.match(await dump(id), /\(7FE0,0010\) PixelData +OB: Encapsulated: 1 frame\(s\), \d+ bytes\n/);
    }
  });

  it('decodes specific character sets, ISO 2022 Japanese and Korean included, as Orthanc and dcmdump do', async (t) => {
    const cases = [
      {
        name: 'latin1',
        charset: 'ISO_IR 100',
        patientName: 'Buc^J\xe9r\xf4me',
        description: 'Cr\xe2ne',
        expectedName: 'Buc^Jérôme',
        expectedDescription: 'Crâne',
      },
      {
        // PS3.5 annex H, example 1.
        name: 'japanese',
        charset: '\\ISO 2022 IR 87',
        patientName: 'Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B',
        description: '\x1b$B;3ED\x1b(B',
        expectedName: 'Yamada^Tarou=山田^太郎=やまだ^たろう',
        expectedDescription: '山田',
      },
      {
        // PS3.5 annex H, example 2: half-width katakana (JIS X 0201) as the default G1.
        name: 'japanese-katakana',
        charset: 'ISO 2022 IR 13\\ISO 2022 IR 87',
        patientName: '\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J',
        description: '\xd4\xcf\xc0\xde',
        expectedName: 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう',
        expectedDescription: 'ﾔﾏﾀﾞ',
        // Orthanc (1.10.1 and 1.12.7) drops the escape sequences here and shows `;3ED` for 山田.
        orthancMisreads: true,
      },
      {
        // PS3.5 annex I, example 1.
        name: 'korean',
        charset: '\\ISO 2022 IR 149',
        patientName: 'Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf',
        description: '\x1b$)C\xc8\xab',
        expectedName: 'Hong^Gildong=洪^吉洞=홍^길동',
        expectedDescription: '홍',
      },
    ];
    for (const [n, spec] of cases.entries()) {
      const file = await dump2dcm(
        folder,
        `charset-${spec.name}`,
        charsetDump(`1.2.826.0.1.3680043.10.1391.88.${10 + n}`, spec.charset, spec.patientName, spec.description),
      );
      const { id, stored } = await store(file);
      const text = await dump(id);
      assert.match(text, new RegExp(`\\(0010,0010\\) PatientName +PN: '${escape(spec.expectedName)}'\\n`), spec.name);
      assert.match(text, new RegExp(`\\(0008,1030\\) StudyDescription +LO: '${escape(spec.expectedDescription)}'\\n`), spec.name);
      const charsets = spec.charset.split('\\');
      const shownCharsets = charsets.length === 1 ? `'${charsets[0]}'` : `[${charsets.map((c) => `'${c}'`).join(', ')}]`;
      assert.ok(text.includes(`SpecificCharacterSet                CS: ${shownCharsets}\n`), `${spec.name}: ${shownCharsets}`);
      const tags = await orthanc.json('GET', `/instances/${id}/simplified-tags`);
      if ('orthancMisreads' in spec && tags.PatientName !== spec.expectedName) {
        t.diagnostic(`Orthanc reads the ${spec.name} example as ${tags.PatientName}`);
      } else {
        assert.equal(tags.PatientName, spec.expectedName, `Orthanc reads ${spec.name} alike`);
        assert.equal(tags.StudyDescription, spec.expectedDescription);
      }
      let converted: string;
      try {
        converted = await dcmdump(stored, true);
      } catch (error) {
        // dcmtk converts through iconv, whose tables some systems lack; Orthanc stays the reference.
        if (!/Cannot open character encoding/.test(String(error))) throw error;
        t.diagnostic(`dcmdump +U8 cannot convert ${spec.charset} here: ${String(error).split('\n')[1]}`);
        continue;
      }
      const reference = expectedFromDcmdump(converted).find((e) => e.tag === '0010,0010');
      assert.equal(reference?.value, `'${spec.expectedName}'`, `dcmdump reads ${spec.name} alike`);
    }
  });

  it("answers ?format=json with dcmjs's naturalized dataset, binary values summarized", async () => {
    const [{ ID }] = await orthanc.json('POST', '/tools/lookup', '1.2.826.0.1.3680043.10.1391.88.1');
    const response = await rawRequest(`${url}/instances/${ID}/dcmjs?format=json`);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
    const dataset = JSON.parse(response.body.toString());
    assert.deepEqual(dataset.PatientName, [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小東' }]);
    assert.equal(dataset.PatientID, 'DUMP-EVERY-VR');
    assert.deepEqual(dataset.PixelData, { BinaryLength: 96 });
    assert.equal(dataset.NumberOfFrames, 3);
    assert.equal(dataset.RequestAttributesSequence.length, 2);
    assert.equal(
      dataset.RequestAttributesSequence[0].ScheduledProtocolCodeSequence.CodeMeaning ??
        dataset.RequestAttributesSequence[0].ScheduledProtocolCodeSequence[0].CodeMeaning,
      'Signification é',
    );
    assert.equal(dataset._meta.TransferSyntaxUID, '1.2.840.10008.1.2.1');
    assert.equal(dataset.SpecificCharacterSet, 'ISO_IR 192');
  });

  it('answers 404 for an unknown instance, 405 for other methods, 400 for an unknown format', async () => {
    const missing = await rawRequest(`${url}/instances/00000000-00000000-00000000-00000000-00000000/dcmjs`);
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body.toString()).HttpStatus, 404);
    const [{ ID }] = await orthanc.json('POST', '/tools/lookup', '1.2.826.0.1.3680043.10.1391.88.1');
    const post = await rawRequest(`${url}/instances/${ID}/dcmjs`, { method: 'POST', body: '' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
    const format = await rawRequest(`${url}/instances/${ID}/dcmjs?format=xml`);
    assert.equal(format.status, 400);
    assert.match(JSON.parse(format.body.toString()).Message, /format must be "text" or "json"/);
  });

  it('answers 413 for a file larger than MaxFileMegabytes', async () => {
    const file = join(folder, 'large.dcm');
    await writeLargeInstance(file, 2 * 2 ** 20);
    const { ID } = await orthanc.upload(await readFile(file));
    const response = await rawRequest(`${url}/instances/${ID}/dcmjs`);
    assert.equal(response.status, 413);
    assert.match(JSON.parse(response.body.toString()).Message, /more than MaxFileMegabytes \(1\)/);
  });

  it("answers 422 with dcmjs's reason for a file Orthanc accepts but dcmjs cannot parse, and keeps serving", async () => {
    // Without its File Meta Information Group Length (0002,0000): dcmtk reads on, dcmjs refuses.
    const [ct] = generateStudy({
      patientId: 'DUMP-NOMETA',
      patientName: 'No^Meta',
      studyDate: '20240802',
      series: [{ modality: 'CT', instances: 1 }],
      size: 8,
    });
    const withoutGroupLength = Buffer.concat([ct!.file.subarray(0, 132), ct!.file.subarray(144)]);
    const { ID } = await orthanc.upload(withoutGroupLength);
    const response = await rawRequest(`${url}/instances/${ID}/dcmjs`);
    assert.equal(response.status, 422);
    const body = JSON.parse(response.body.toString());
    assert.equal(body.HttpStatus, 422);
    assert.match(body.Message, new RegExp(`^dcmjs cannot parse the DICOM file of instance ${ID}: `));
    assert.match(body.Reason, /meta length tag is malformed or not present/);
    assert.equal((await rawRequest(`${url}/recipes`)).status, 200, 'the host still answers');
    await dump((await orthanc.json('POST', '/tools/lookup', '1.2.826.0.1.3680043.10.1391.88.1'))[0].ID);
  });
});

describe('the dump task on files Orthanc would refuse', () => {
  const run = (bytes: Uint8Array) => dumpTask({ file: ownCopy(bytes), format: 'text', maxInflatedBytes: Infinity });
  const [ct] = generateStudy({
    patientId: 'DUMP-BAD',
    patientName: 'Bad^File',
    studyDate: '20240803',
    series: [{ modality: 'CT', instances: 1 }],
    size: 8,
  });

  it('gives the reason for a truncated file', () => {
    const result = run(ct!.file.subarray(0, ct!.file.length - 40));
    assert.equal(result.ok, false);
    assert.match(
      (result as { reason: string }).reason,
      /^the file is truncated: element \(7FE0,0010\) at byte \d+ needs \d+ bytes, the file ends at byte \d+$/,
    );
  });

  it('gives the reason for garbage, with or without the DICM prefix', () => {
    const garbage = Uint8Array.from({ length: 600 }, (_, i) => (i * 73 + 11) & 0xff);
    assert.deepEqual(run(garbage), { ok: false, status: 422, reason: 'not a DICOM Part-10 file: no "DICM" prefix at byte 128' });
    const prefixed = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from(garbage)]);
    assert.equal(run(prefixed).ok, false);
  });

  it('gives the reason for a deflated dataset cut short', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-dump-'));
    try {
      const source = join(folder, 'ct.dcm');
      await writeFile(source, ct!.file);
      const deflated = await readFile(await convert(folder, 'dcmconv', ['+td'], source, 'ct-deflated'));
      assert.equal(run(deflated).ok, true);
      const result = run(deflated.subarray(0, deflated.length - 30));
      assert.equal(result.ok, false);
      assert.match((result as { reason: string }).reason, /^the deflated dataset cannot be inflated: unexpected end of file$/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
