import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger, createScopedBinding, OrthancConnection, RestRouter, type ChangeFeed } from '../../../shared/binding/index.js';
import type { Host } from '../../../host/index.js';
import { MetadataReader } from '../metadata-reader.js';
import { startHostInProcess, type LineLog } from '../../../test/helpers/host.js';
import { comparableHeaders, rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { bruteForce, fillOrthanc, levelPath, levels, putMetadata, reMatch, userMetadata, wildcardMatch, type Level } from './fixture.js';

type Body = { Level: Level; Metadata?: Record<string, string>; [field: string]: unknown };

describe('recipe metadata-find, against a real Orthanc', { timeout: 300_000 }, () => {
  let orthanc: TestOrthanc;
  let hasExtendedFind = false;
  let version = '';
  /** Three hosts on one Orthanc: the defaults (native MetadataQuery where it applies, bulk reads), scan only, per-resource reads. */
  const hosts: Record<'native' | 'scan' | 'perResource', { host: Host; url: string; log: LineLog }> = {} as never;

  before(async () => {
    orthanc = await startTestOrthanc({ configuration: { UserMetadata: userMetadata } });
    const system = await orthanc.json('GET', '/system');
    hasExtendedFind = system.Capabilities?.HasExtendedFind === true;
    version = system.Version;
    await fillOrthanc(orthanc);
    const recipeOptions = {
      native: {},
      scan: { NativeMetadataQuery: false, BatchSize: 3 },
      perResource: { NativeMetadataQuery: false, MetadataReads: 'PerResource', Concurrency: 3 },
    };
    for (const [name, options] of Object.entries(recipeOptions)) {
      const { host, url, log } = await startHostInProcess({
        Orthanc: { Url: orthanc.url },
        Recipes: { 'metadata-find': { Enabled: true, ...options } },
      });
      hosts[name as keyof typeof hosts] = { host, url, log };
    }
  });

  after(async () => {
    for (const { host } of Object.values(hosts)) await host.close();
    await orthanc?.stop();
  });

  async function find(hostUrl: string, body: unknown): Promise<{ status: number; json: any }> {
    const answer = await rawRequest(`${hostUrl}/tools/find`, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = answer.body.toString('utf8');
    return { status: answer.status, json: text ? JSON.parse(text) : undefined };
  }

  /** Asks every host; all must give the brute-force answer (from `cache` when given). */
  async function expectBruteForce(
    body: Body,
    test: (metadata: Record<string, string>) => boolean,
    cache?: Map<string, Record<string, string>>,
  ): Promise<string[]> {
    const expected = await bruteForce(orthanc, body, test, cache);
    for (const [name, { url }] of Object.entries(hosts)) {
      const { status, json } = await find(url, body);
      assert.equal(status, 200, `${name} ${JSON.stringify(body)}: ${JSON.stringify(json)}`);
      assert.deepEqual(json, expected, `${name} host, ${JSON.stringify(body)}`);
    }
    return expected;
  }

  const valuesAt = async (level: Level, name: string) => {
    const ids: string[] = await orthanc.json('GET', `/${levelPath[level]}`);
    return Promise.all(
      ids.map(async (id) => (await orthanc.json<Record<string, string>>('GET', `/${levelPath[level]}/${id}/metadata?expand`))[name] ?? ''),
    );
  };

  it('filters on LastUpdate, ReceptionDate, RemoteAET and user metadata at each level with regular expressions, as a brute force does', async () => {
    const cache = new Map<string, Record<string, string>>();
    let nonEmpty = 0;
    for (const level of levels) {
      const lastUpdates = [...new Set(await valuesAt(level, 'LastUpdate'))].filter(Boolean).sort();
      const receptionDates = [...new Set(await valuesAt(level, 'ReceptionDate'))].filter(Boolean).sort();
      const regexes: Record<string, string[]> = {
        LastUpdate: ['\\d{8}T', ...lastUpdates.slice(0, 2), `${lastUpdates[0]?.slice(0, 8) ?? '2'}`, '^$'],
        ReceptionDate: ['\\d{8}T', ...receptionDates.slice(-1), ''],
        RemoteAET: ['RCP-SCU-ONE', 'RCP-SCU-(ONE|TWO)$', 'rcp', '(?i)rcp', '^$'],
        Reviewer: ['al', 'alice$', '(?i)alice', 'a/b', 'É', '.*', '^$', 'x\\*y', 'al\\\\ice', '[ab]'],
        Score: ['1', '\\d\\d$'],
      };
      for (const [name, patterns] of Object.entries(regexes)) {
        for (const pattern of patterns) {
          const matches = reMatch(pattern);
          nonEmpty +=
            (await expectBruteForce({ Level: level, Query: {}, Metadata: { [name]: pattern } }, (m) => matches(m[name]), cache)).length > 0
              ? 1
              : 0;
        }
      }
      // Two constraints at once, and the body's other fields as sent (a DICOM Query, CaseSensitive).
      const al = reMatch('(?i)al');
      const rcp = reMatch('RCP');
      await expectBruteForce(
        { Level: level, Query: {}, Metadata: { Reviewer: '(?i)al', RemoteAET: 'RCP' } },
        (m) => al(m.Reviewer) && rcp(m.RemoteAET),
      );
      await expectBruteForce({ Level: level, Query: { PatientID: 'mfa*' }, CaseSensitive: false, Metadata: { Reviewer: '(?i)al' } }, (m) =>
        al(m.Reviewer),
      );
      await expectBruteForce({ Level: level, Query: { PatientID: 'mfa*' }, CaseSensitive: true, Metadata: { Reviewer: '(?i)al' } }, (m) =>
        al(m.Reviewer),
      );
    }
    assert.ok(nonEmpty > 30, `most queries find something (${nonEmpty})`);
  });

  it('matches DICOM-style with "MetadataMatching": "Wildcard" (lists, ranges on dates, ASCII case folding), as a brute force does', async () => {
    const cache = new Map<string, Record<string, string>>();
    for (const level of levels) {
      const lastUpdates = [...new Set(await valuesAt(level, 'LastUpdate'))].filter(Boolean).sort();
      const first = lastUpdates[0] ?? '20240101T000000';
      const wildcards: Record<string, string[]> = {
        LastUpdate: [`${first.slice(0, 8)}*`, `${first}-`, `-${first}`, `${first}`, `${first}\\19990101T000000`, '*', ''],
        ReceptionDate: ['*T*', `${first.slice(0, 8)}-`, '?'],
        RemoteAET: ['RCP*', 'rcp-scu-one', 'RCP-SCU-???', '*', 'RCP-SCU-ONE\\RCP-SCU-TWO'],
        Reviewer: ['alice', 'al*', 'AL*', '*', '', 'a?ice', 'alice\\bob', 'x*y', 'É*', 'ÉRIC', 'al\\ice', 'a/b', '*/*', 'bob\\'],
        Score: ['1*', '?4', '*0'],
      };
      for (const [name, patterns] of Object.entries(wildcards)) {
        const ranges = name === 'LastUpdate' || name === 'ReceptionDate';
        for (const pattern of patterns) {
          for (const caseSensitive of [false, true]) {
            const matches = wildcardMatch(pattern, { ranges, caseSensitive });
            const body: Body = { Level: level, Query: {}, MetadataMatching: 'Wildcard', Metadata: { [name]: pattern } };
            if (caseSensitive) body.CaseSensitive = true;
            await expectBruteForce(body, (m) => matches(m[name]), cache);
          }
        }
      }
    }
  });

  it("gives the same answers through Orthanc's MetadataQuery (1.12.5+) as through the scan, and uses it where it applies", async (t) => {
    if (!hasExtendedFind) return t.skip(`Orthanc ${version} has no ExtendedFind`);
    const nativeLog = hosts.native.log;
    const usedNative = () => nativeLog.lines.filter((line) => /metadata-find\] find answered .*nativeConstraints=[1-9]/.test(line)).length;
    const before = usedNative();
    const bodies: Body[] = [];
    for (const level of levels) {
      const lastUpdate = (await valuesAt(level, 'LastUpdate')).find(Boolean) ?? '2';
      bodies.push(
        { Level: level, Query: {}, MetadataMatching: 'Wildcard', Metadata: { Reviewer: 'al*' } },
        { Level: level, Query: {}, MetadataMatching: 'Wildcard', Metadata: { Reviewer: 'alice\\bob', Score: '?4' } },
        { Level: level, Query: {}, MetadataMatching: 'Wildcard', CaseSensitive: true, Metadata: { Reviewer: 'Al*' } },
        { Level: level, Query: {}, MetadataMatching: 'Wildcard', Metadata: { Reviewer: 'ÉRIC', RemoteAET: 'RCP*' } },
        { Level: level, Query: {}, MetadataMatching: 'Wildcard', Metadata: { Reviewer: 'a*' }, Limit: 2, Since: 1 },
        { Level: level, Query: {}, MetadataMatching: 'Wildcard', Metadata: { Reviewer: 'a*' }, Limit: 2, Since: 1, Expand: true },
        { Level: level, Query: {}, Metadata: { LastUpdate: lastUpdate.slice(0, 8) } },
        { Level: level, Query: {}, CaseSensitive: true, Metadata: { LastUpdate: `^${lastUpdate}$`, Reviewer: 'al' } },
        { Level: level, Query: {}, CaseSensitive: true, Metadata: { Reviewer: 'a' }, Limit: 3 },
        { Level: level, Query: {}, Metadata: { Reviewer: '' } },
      );
    }
    for (const body of bodies) {
      const native = await find(hosts.native.url, body);
      const scan = await find(hosts.scan.url, body);
      assert.equal(native.status, 200, JSON.stringify(native.json));
      assert.deepEqual(native.json, scan.json, JSON.stringify(body));
    }
    assert.ok(
      usedNative() - before >= bodies.length - 4,
      `Orthanc's MetadataQuery answered ${usedNative() - before} of ${bodies.length} queries`,
    );
    // And Orthanc's own MetadataQuery agrees with the wildcard reference on the patterns the recipe hands it.
    for (const pattern of ['al*', 'alice\\bob', 'ÉRIC', 'a?ice', 'x*y', '*/*', 'É*']) {
      const matches = wildcardMatch(pattern);
      for (const level of levels) {
        const direct = await orthanc.json('POST', '/tools/find', { Level: level, Query: {}, MetadataQuery: { Reviewer: pattern } });
        assert.deepEqual(direct, await bruteForce(orthanc, { Level: level, Query: {} }, (m) => matches(m.Reviewer)), `${level} ${pattern}`);
      }
    }
  });

  it('applies Limit and Since after the metadata filter, over the whole ordered answer', async () => {
    for (const level of levels) {
      for (const [metadata, matching] of [
        [{ Reviewer: '(?i)a' }, 'Regex'],
        [{ Reviewer: 'a*' }, 'Wildcard'],
      ] as const) {
        const all = await bruteForce(orthanc, { Level: level, Query: {} }, (m) => /^a/i.test(m.Reviewer ?? ''));
        assert.ok(all.length >= 3, `${level}: enough matches (${all.length})`);
        for (const { url } of Object.values(hosts)) {
          const pages: string[] = [];
          for (let since = 0; since < all.length + 2; since += 2) {
            const { json } = await find(url, {
              Level: level,
              Query: {},
              MetadataMatching: matching,
              Metadata: metadata,
              Limit: 2,
              Since: since,
            });
            assert.ok(json.length <= 2);
            pages.push(...json);
          }
          assert.deepEqual(pages, all, `${level}: the pages put together are the whole answer`);
          const { json: sinceOnly } = await find(url, {
            Level: level,
            Query: {},
            MetadataMatching: matching,
            Metadata: metadata,
            Since: 1,
          });
          assert.deepEqual(sinceOnly, all.slice(1));
          const { json: limitOnly } = await find(url, {
            Level: level,
            Query: {},
            MetadataMatching: matching,
            Metadata: metadata,
            Limit: 1,
          });
          assert.deepEqual(limitOnly, all.slice(0, 1));
        }
      }
    }
  });

  it('stops reading metadata once the page is full (reads apart from the find)', async () => {
    const { url, log } = hosts.perResource;
    const { json } = await find(url, { Level: 'Instance', Query: {}, Metadata: { Reviewer: '' }, Limit: 1 });
    assert.equal(json.length, 1);
    const line = log.messages('metadata-find').at(-1)!;
    const [, candidates, read] = /candidates=(\d+) readFromOrthanc=(\d+)/.exec(line)!;
    assert.ok(Number(read) < Number(candidates), line);
  });

  it("answers Orthanc's expanded objects, each with the resource's Metadata map, with Expand: true", async () => {
    for (const level of levels) {
      const ids = await bruteForce(orthanc, { Level: level, Query: {} }, (m) => /^al/i.test(m.Reviewer ?? ''));
      const expanded: { ID: string }[] = await orthanc.json('POST', '/tools/find', { Level: level, Query: {}, Expand: true });
      const expected = await Promise.all(
        expanded
          .filter((resource) => ids.includes(resource.ID))
          .map(async (resource) => ({
            ...resource,
            Metadata: await orthanc.json('GET', `/${levelPath[level]}/${resource.ID}/metadata?expand`),
          })),
      );
      for (const [name, { url }] of Object.entries(hosts)) {
        const { status, json } = await find(url, { Level: level, Query: {}, Expand: true, Metadata: { Reviewer: '(?i)al' } });
        assert.equal(status, 200);
        assert.deepEqual(json, expected, `${name} host, ${level}`);
        const { json: idsOnly } = await find(url, { Level: level, Query: {}, Expand: false, Metadata: { Reviewer: '(?i)al' } });
        assert.deepEqual(idsOnly, ids);
      }
    }
    const [major = 0, minor = 0] = version.split('.').map(Number);
    if (major > 1 || minor >= 12) {
      // Labels (1.12.0+) reach Orthanc as sent.
      const studies: string[] = await orthanc.json('GET', '/studies');
      for (const id of studies.slice(0, 3)) await orthanc.json('PUT', `/studies/${id}/labels/mf-label`, '');
      const labelled = await bruteForce(orthanc, { Level: 'Study', Query: {}, Labels: ['mf-label'] }, (m) => /^al/i.test(m.Reviewer ?? ''));
      const unlabelled = await bruteForce(orthanc, { Level: 'Study', Query: {} }, (m) => /^al/i.test(m.Reviewer ?? ''));
      assert.ok(labelled.length > 0 && labelled.length < unlabelled.length, 'the label narrows the answer');
      for (const [name, { url }] of Object.entries(hosts)) {
        const { json } = await find(url, { Level: 'Study', Query: {}, Labels: ['mf-label'], Metadata: { Reviewer: '(?i)al' } });
        assert.deepEqual(json, labelled, `${name} host, Labels`);
      }
    }
    if (major > 1 || minor >= 11) {
      const body = { Level: 'Study', Query: {}, Expand: true, RequestedTags: ['ModalitiesInStudy'] };
      const direct: { ID: string; RequestedTags: unknown }[] = await orthanc.json('POST', '/tools/find', body);
      const { json } = await find(hosts.native.url, { ...body, Metadata: { Reviewer: '' } });
      assert.deepEqual(
        json.map(({ Metadata: _, ...resource }: { Metadata: unknown }) => resource),
        direct,
        'RequestedTags reached Orthanc',
      );
    }
  });

  it('passes a body without Metadata to Orthanc: its answer byte for byte, errors included; other methods get 405 and Allow: POST, as from Orthanc', async () => {
    const bodies = [
      '{"Level":"Study","Query":{}}',
      '{"Level":"Series","Query":{"Modality":"CT"},"Expand":true,"Limit":2,"Since":1}',
      '{"Level":"Instance","Query":{},"Expand":true}',
      '{"Level":"Stud","Query":{}}',
      '{"Level":"Study","Query":{},"Limit":-1}',
      '{"Level":"Study"}',
    ];
    for (const body of bodies) {
      const direct = await rawRequest(`${orthanc.url}/tools/find`, { method: 'POST', body });
      const viaHost = await rawRequest(`${hosts.native.url}/tools/find`, { method: 'POST', body });
      assert.equal(viaHost.status, direct.status, body);
      assert.deepEqual(comparableHeaders(viaHost.headers), comparableHeaders(direct.headers), body);
      assert.ok(viaHost.body.equals(direct.body), `the same bytes for ${body}`);
    }
    assert.ok(
      (await rawRequest(`${orthanc.url}/tools/find`, { method: 'POST', body: bodies[3] })).status >= 400,
      'a bad Level is an Orthanc error',
    );
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const direct = await rawRequest(`${orthanc.url}/tools/find`, { method });
      const viaHost = await rawRequest(`${hosts.native.url}/tools/find`, { method });
      assert.equal(viaHost.status, direct.status, method);
      assert.equal(viaHost.headers.allow, direct.headers.allow);
      // Orthanc's 405 has no body; the host's has its one JSON error shape.
      assert.equal(JSON.parse(viaHost.body.toString()).Code, 'method-not-allowed', method);
    }
  });

  it('answers "(a+)+$" against a 100 kB value at once (linear-time matching)', async (t) => {
    const instances: string[] = await orthanc.json('GET', '/instances');
    await putMetadata(orthanc, 'Instance', instances[0]!, 'Reviewer', `${'a'.repeat(100_000)}!`);
    await putMetadata(orthanc, 'Instance', instances[1]!, 'Reviewer', 'a'.repeat(100_000));
    for (const [name, { url }] of Object.entries(hosts)) {
      const started = performance.now();
      const { status, json } = await find(url, { Level: 'Instance', Query: {}, Metadata: { Reviewer: '(a+)+$' } });
      const elapsed = performance.now() - started;
      assert.equal(status, 200);
      assert.deepEqual(json, [instances[1]]);
      t.diagnostic(`(a+)+$ against 100 kB values, ${name} host: ${elapsed.toFixed(0)} ms`);
    }
  });

  it('leaves out a resource deleted while the query runs (bulk and per-resource reads)', async () => {
    const connection = new OrthancConnection({ url: orthanc.url });
    const log = createLogger('test', { level: 'error' });
    const { binding } = createScopedBinding({ connection, feed: {} as ChangeFeed, router: new RestRouter(), log, owner: 'test' });
    try {
      const series: string[] = await orthanc.json('GET', '/series');
      const doomed = series.at(-1)!;
      await orthanc.json('DELETE', `/series/${doomed}`);
      for (const mode of ['Bulk', 'PerResource'] as const) {
        const reader = new MetadataReader(binding, { mode, concurrency: 2, batchSize: 2 }, log);
        const found = new Map();
        await reader.readBatches('series', reader.batches(series), found, () => false);
        assert.deepEqual([...found.keys()].sort(), series.slice(0, -1).sort(), mode);
        assert.deepEqual(found.get(series[0]!), await orthanc.json('GET', `/series/${series[0]}/metadata?expand`));
      }
    } finally {
      await connection.close();
    }
  });

  it('answers a 400 naming the field for every bad input', async () => {
    const cases: [body: unknown, field: string][] = [
      ['{"Level": "Study", "Metadata": {', 'body'],
      ['', 'body'],
      [{ Level: 'Stud', Query: {}, Metadata: { Reviewer: 'a' } }, 'Level'],
      [{ Query: {}, Metadata: { Reviewer: 'a' } }, 'Level'],
      [{ Level: 'Study', Query: {}, Metadata: ['a'] }, 'Metadata'],
      [{ Level: 'Study', Query: {}, Metadata: 'Reviewer=a' }, 'Metadata'],
      [{ Level: 'Study', Query: {}, Metadata: null }, 'Metadata'],
      [{ Level: 'Study', Query: {}, Metadata: { Reviewer: 3 } }, 'Metadata.Reviewer'],
      [{ Level: 'Study', Query: {}, Metadata: { Reviewer: '(a' } }, 'Metadata.Reviewer'],
      [{ Level: 'Study', Query: {}, Metadata: { Reviewer: '(?=a)' } }, 'Metadata.Reviewer'],
      [{ Level: 'Study', Query: {}, Metadata: { Reviewer: 'a'.repeat(1025) } }, 'Metadata.Reviewer'],
      [{ Level: 'Study', Query: {}, MetadataMatching: 'Wildcard', Metadata: { LastUpdate: '2024-2025-2026' } }, 'Metadata.LastUpdate'],
      [{ Level: 'Study', Query: {}, MetadataMatching: 'Glob', Metadata: { Reviewer: 'a' } }, 'MetadataMatching'],
      [{ Level: 'Study', Query: {}, MetadataMatching: 'wildcard', Metadata: { Reviewer: 'a' } }, 'MetadataMatching'],
      [{ Level: 'Study', Query: {}, Limit: -1, Metadata: { Reviewer: 'a' } }, 'Limit'],
      [{ Level: 'Study', Query: {}, Since: '2', Metadata: { Reviewer: 'a' } }, 'Since'],
      [{ Level: 'Study', Query: {}, Expand: 'yes', Metadata: { Reviewer: 'a' } }, 'Expand'],
    ];
    for (const [body, field] of cases) {
      const answer = await rawRequest(`${hosts.native.url}/tools/find`, {
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.match(String(answer.headers['content-type']), /^application\/json/);
      const json = JSON.parse(answer.body.toString('utf8'));
      assert.equal(json.Field, field, JSON.stringify(body));
      assert.ok(json.Message.startsWith(`${field}: `), json.Message);
    }
    const longest = await find(hosts.native.url, { Level: 'Study', Query: {}, Metadata: { Reviewer: 'a'.repeat(1024) } });
    assert.equal(longest.status, 200, 'a pattern of exactly MaxPatternLength characters is accepted');
    for (const rest of [{ Query: 'not an object' }, { Query: { PatientID: 3 } }, {}]) {
      const direct = await rawRequest(`${orthanc.url}/tools/find`, { method: 'POST', body: JSON.stringify({ Level: 'Study', ...rest }) });
      const viaHost = await rawRequest(`${hosts.native.url}/tools/find`, {
        method: 'POST',
        body: JSON.stringify({ Level: 'Study', ...rest, Metadata: { Reviewer: 'a' } }),
      });
      assert.equal(
        viaHost.status,
        direct.status,
        `what Orthanc refuses in the rest of the body (${JSON.stringify(rest)}) is its own error answer`,
      );
      // Orthanc's error fields, as Orthanc gave them, plus the host's Code.
      const orthancError = JSON.parse(direct.body.toString());
      assert.deepEqual(JSON.parse(viaHost.body.toString()), { ...orthancError, Code: 'orthanc-error' });
    }
  });
});
