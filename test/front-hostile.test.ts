import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../host/index.js';
import { generateStudy } from './helpers/dicom.js';
import { startHostInProcess, type LineLog } from './helpers/host.js';
import { basicAuth } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';
import { RawConnection, exchange, requestHead, type WireAnswer } from './helpers/raw-http.js';
import { eventually } from './helpers/changes.js';
import { orthancPlugins } from './helpers/postgres.js';
import { TestUpstream } from './helpers/upstream.js';

const good = basicAuth('alice', 's3cret');

/** Sends one request on its own connection and returns the answer. */
async function ask(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string | number> = {},
  body = '',
): Promise<WireAnswer> {
  const { answer, connection } = await exchange(
    url,
    requestHead(method, path, body ? { ...headers, 'Content-Length': Buffer.byteLength(body) } : headers) + body,
    { timeoutMs: 20_000 },
  );
  connection.destroy();
  return answer;
}

const jsonOf = (answer: WireAnswer) => JSON.parse(answer.body.toString()) as { HttpStatus: number; Message: string };

/**
 * The security review's probes, against a host in front of a real Orthanc that requires
 * credentials, with a recording upstream in between that can be made to fail.
 */
describe('the front door under hostile input (real Orthanc with AuthenticationEnabled)', { timeout: 300_000 }, () => {
  let orthanc: TestOrthanc;
  let upstream: TestUpstream;
  let host: Host;
  let hostUrl: string;
  let log: LineLog;
  let instanceId: string;
  let studyId: string;
  let studyUid: string;

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: { AuthenticationEnabled: true, RegisteredUsers: { alice: 's3cret' }, Plugins: [orthancPlugins.dicomWeb] },
      credentials: { username: 'alice', password: 's3cret' },
    });
    const stored = await orthanc.upload(
      generateStudy({
        patientId: 'HOSTILE-1',
        patientName: 'Hostile^One',
        studyDate: '20240101',
        series: [{ modality: 'CT', instances: 1 }],
      })[0]!.file,
    );
    instanceId = stored.ID;
    studyId = stored.ParentStudy;
    studyUid = (await orthanc.json('GET', `/studies/${studyId}`)).MainDicomTags.StudyInstanceUID;
    upstream = await TestUpstream.start(orthanc.url);
    ({
      host,
      url: hostUrl,
      log,
    } = await startHostInProcess({
      Orthanc: { Url: upstream.url, Username: 'alice', Password: 's3cret', TimeoutSeconds: 2 },
      HttpServer: {
        AllowedOrigins: ['https://viewer.example:8443'],
        RequestHeadTimeoutSeconds: 10,
        KeepAliveTimeoutSeconds: 1,
        BodyInactivityTimeoutSeconds: 1,
        MaxConnections: 3000,
      },
      Recipes: { hello: { Enabled: true }, 'dicom-dump': { Enabled: true }, thumbnails: { Enabled: true } },
    }));
  });

  after(async () => {
    await host?.close();
    await upstream?.stop();
    await orthanc?.stop();
  });

  describe('recipe routes fail closed (defect 1)', () => {
    it('lets in only what Orthanc confirms with a 2xx, and replays its 401 challenge', async () => {
      assert.equal((await ask(hostUrl, 'GET', '/toto', { Authorization: good })).status, 200);
      const refused = await ask(hostUrl, 'GET', '/toto', { Authorization: basicAuth('mallory', 'guess') });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers['www-authenticate'], 'Basic realm="Orthanc Secure Area"');
    });

    for (const fault of [{ status: 502 }, { status: 500 }, { status: 503 }, 'hang', 'reset'] as const) {
      const label = typeof fault === 'string' ? fault : `a ${fault.status}`;
      it(`answers 503 when the credentials check meets ${label}, and never remembers it`, async () => {
        // A password never tried before: no cached verdict can hide the check.
        const guess = basicAuth('mallory', `guess-${label}`);
        upstream.fault = { what: fault, applies: (request) => request.url === '/system' && request.headers.authorization === guess };
        try {
          for (const path of ['/toto', `/instances/${instanceId}/dcmjs`]) {
            const answer = await ask(hostUrl, 'GET', path, { Authorization: guess });
            assert.equal(answer.status, 503, `${path} with ${label}: ${answer.body}`);
            assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
            assert.equal(jsonOf(answer).HttpStatus, 503);
          }
        } finally {
          upstream.fault = undefined;
        }
        // Orthanc answers again: the same password gets Orthanc's own verdict, not a remembered doubt.
        assert.equal((await ask(hostUrl, 'GET', '/toto', { Authorization: guess })).status, 401);
        assert.equal((await ask(hostUrl, 'GET', '/toto', { Authorization: good })).status, 200);
      });
    }
  });

  describe('IDs (defect 6)', () => {
    it('answers what Orthanc answers for "." and ".." in place of an ID, never a 500', async () => {
      for (const path of [
        '/studies/%2e%2e/thumbnail',
        '/instances/%2e%2e/dcmjs',
        '/series/%2e/thumbnail',
        '/instances/%2E%2E/thumbnail',
        '/instances/..%2f..%2fsystem/dcmjs',
      ]) {
        const viaHost = await ask(hostUrl, 'GET', path, { Authorization: good });
        assert.ok(viaHost.status >= 400 && viaHost.status < 500, `${path}: ${viaHost.status} ${viaHost.body}`);
        assert.equal(viaHost.status, 404, path);
      }
    });

    it('answers 404 for an ID of another shape, without asking Orthanc for it', async () => {
      for (const [path, asked] of [
        ['/instances/not-an-id/dcmjs', '/instances/not-an-id'],
        ['/studies/not-an-id/thumbnail', '/studies/not-an-id/series'],
      ]) {
        const before = upstream.recorded.length;
        const answer = await ask(hostUrl, 'GET', path!, { Authorization: good });
        assert.equal(answer.status, 404, path);
        assert.equal(jsonOf(answer).HttpStatus, 404, path);
        assert.ok(!upstream.recorded.slice(before).some((r) => r.url.startsWith(asked!)), `${path}: Orthanc was not asked for ${asked}`);
      }
      assert.equal((await ask(hostUrl, 'GET', `/studies/${studyId}/thumbnail`, { Authorization: good })).status, 200);
      assert.equal((await ask(hostUrl, 'GET', `/instances/${instanceId}/dcmjs`, { Authorization: good })).status, 200);
    });
  });

  describe('header lines (defect 5)', () => {
    it('refuses a request with more than 1,000 header lines with 431, where its body would be lost', async () => {
      for (const count of [1001, 2000]) {
        const headers: Record<string, string> = { Authorization: good };
        for (let i = 0; i < count; i += 1) headers[`h${i}`] = '1';
        const before = upstream.recorded.length;
        const { answer, connection } = await exchange(
          hostUrl,
          requestHead('POST', '/tools/lookup', { ...headers, 'Transfer-Encoding': 'chunked' }) + '8\r\nHOSTILE-\r\n1\r\n1\r\n0\r\n\r\n',
        );
        assert.equal(answer.status, 431, `${count} headers: ${answer.body}`);
        assert.equal(jsonOf(answer).HttpStatus, 431);
        assert.equal(await connection.waitForEnd(10_000), 'closed', 'the connection is closed without a reset');
        connection.destroy();
        assert.equal(upstream.recorded.slice(before).filter((r) => r.url === '/tools/lookup').length, 0, 'nothing reached Orthanc');
      }
      // Node 20 hands such a request over with 1,000 header lines (the front counts them); Node 24
      // refuses the head itself (HPE_HEADER_OVERFLOW). Either way: 431, and nothing reaches Orthanc.
      await log.waitFor(
        /^W .*refused (POST \/tools\/lookup|a request) from \S+ with 431: (more than 1000 header lines|the request line and headers exceed)/,
      );
      // Fewer header lines keep their body (Orthanc itself reads no more than about 60: its web server's limit).
      const headers: Record<string, string> = { Authorization: good };
      for (let i = 0; i < 50; i += 1) headers[`h${i}`] = '1';
      const { answer, connection } = await exchange(
        hostUrl,
        requestHead('POST', '/tools/lookup', { ...headers, 'Transfer-Encoding': 'chunked' }) + '8\r\nHOSTILE-\r\n1\r\n1\r\n0\r\n\r\n',
      );
      connection.destroy();
      assert.equal(answer.status, 200);
      assert.equal(JSON.parse(answer.body.toString())[0]?.Type, 'Patient', answer.body.toString());
    });
  });

  describe('headers passed to Orthanc (defect 4)', () => {
    const hostile = {
      Authorization: good,
      Connection: 'keep-alive, X-Secret-Hop',
      'X-Secret-Hop': 'for the next hop only',
      'Keep-Alive': 'timeout=5',
      'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
      Forwarded: 'for=6.6.6.6;proto=https;host=evil.example',
      'X-Forwarded-For': '6.6.6.6',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'evil.example',
      'X-Kept': 'end to end',
    };

    it("drops hop-by-hop headers, those Connection names, Proxy-Authorization and an untrusted client's forwarding headers", async () => {
      const before = upstream.recorded.length;
      assert.equal((await ask(hostUrl, 'GET', '/system?probe=untrusted', { ...hostile, Host: 'pacs.example:8043' })).status, 200);
      const seen = upstream.recorded.slice(before).find((r) => r.url === '/system?probe=untrusted')!;
      const names = new Set(Object.keys(seen.headers));
      for (const name of ['x-secret-hop', 'keep-alive', 'proxy-authorization']) assert.ok(!names.has(name), `${name} is not forwarded`);
      assert.equal(seen.headers['x-kept'], 'end to end');
      assert.equal(seen.headers.authorization, good);
      assert.equal(seen.headers.forwarded, 'for=127.0.0.1;proto=http;host=pacs.example:8043');
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-host'], 'pacs.example:8043');
    });

    it('appends to the forwarding headers of a trusted proxy', async () => {
      const trusting = await startHostInProcess({
        Orthanc: { Url: upstream.url, Username: 'alice', Password: 's3cret' },
        HttpServer: { TrustedProxies: ['10.0.0.0/8', '127.0.0.1'] },
      });
      try {
        const before = upstream.recorded.length;
        const headers = {
          ...hostile,
          Forwarded: 'for=10.1.2.3;proto=https;host=pacs.example:8443',
          'X-Forwarded-For': '10.1.2.3',
          'X-Forwarded-Host': 'pacs.example:8443',
        };
        assert.equal((await ask(trusting.url, 'GET', '/system?probe=trusted', headers)).status, 200);
        const seen = upstream.recorded.slice(before).find((r) => r.url === '/system?probe=trusted')!;
        assert.equal(
          seen.headers.forwarded,
          'for=10.1.2.3;proto=https;host=pacs.example:8443, for=127.0.0.1;proto=https;host=pacs.example:8443',
        );
        assert.equal(seen.headers['x-forwarded-for'], '10.1.2.3, 127.0.0.1');
        assert.equal(seen.headers['x-forwarded-proto'], 'https');
        assert.equal(seen.headers['x-forwarded-host'], 'pacs.example:8443');
        assert.ok(!('proxy-authorization' in seen.headers));
        // DICOMweb through both proxies names the address the client used.
        const metadata = await ask(trusting.url, 'GET', `/dicom-web/studies/${studyUid}/metadata`, {
          Authorization: good,
          Forwarded: 'for=10.1.2.3;proto=https;host=pacs.example:8443',
        });
        assert.equal(metadata.status, 200);
        assert.match(metadata.body.toString(), /"https:\/\/pacs\.example:8443\/dicom-web\/studies\//);
      } finally {
        await trusting.host.close();
      }
    });

    it("makes Orthanc's DICOMweb plugin name the host's address in BulkDataURI, not Orthanc's", async () => {
      const metadata = await ask(hostUrl, 'GET', `/dicom-web/studies/${studyUid}/metadata`, {
        Authorization: good,
        Host: new URL(hostUrl).host,
      });
      assert.equal(metadata.status, 200);
      const urls = [...metadata.body.toString().matchAll(/"(https?:\/\/[^"]+)"/g)].map((m) => m[1]!);
      assert.ok(urls.length > 0, 'the metadata holds URLs');
      for (const url of urls) assert.ok(url.startsWith(`${hostUrl}/dicom-web/`), `${url} names the host (${hostUrl})`);
    });
  });

  describe('cross-site requests (defect 3)', () => {
    const lookup = (headers: Record<string, string>) =>
      ask(hostUrl, 'POST', '/tools/lookup', { Authorization: good, ...headers }, 'HOSTILE-1');

    it('refuses a state-changing request that a browser marks cross-site, on recipe and proxied routes alike', async () => {
      const marks: Record<string, string>[] = [
        { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
        { 'Sec-Fetch-Site': 'cross-site' },
        { 'Sec-Fetch-Site': 'same-site' },
        { Origin: 'http://evil.example' },
        { Origin: 'null' },
      ];
      for (const mark of marks) {
        for (const [method, path] of [
          ['POST', '/toto'],
          ['POST', '/tools/lookup'],
          ['DELETE', `/instances/${instanceId}`],
          ['PUT', `/instances/${instanceId}/metadata/1024`],
        ] as const) {
          const before = upstream.recorded.length;
          const answer = await ask(hostUrl, method, path, { Authorization: good, ...mark }, method === 'DELETE' ? '' : 'x');
          assert.equal(answer.status, 403, `${method} ${path} ${JSON.stringify(mark)}`);
          assert.equal(jsonOf(answer).HttpStatus, 403);
          assert.match(jsonOf(answer).Message, /AllowedOrigins/);
          assert.ok(!upstream.recorded.slice(before).some((r) => r.url === path), `${method} ${path} did not reach Orthanc`);
        }
      }
      assert.equal((await orthanc.json('GET', `/instances/${instanceId}`)).ID, instanceId, 'the instance is still there');
    });

    it('lets through clients that send neither header, same-origin pages, allowed origins, and safe methods', async () => {
      const hostHeader = new URL(hostUrl).host;
      for (const headers of <Record<string, string>[]>[
        {},
        { 'Sec-Fetch-Site': 'same-origin', Origin: hostUrl },
        { 'Sec-Fetch-Site': 'none' },
        { Origin: hostUrl, Host: hostHeader },
        { Origin: 'https://viewer.example:8443', 'Sec-Fetch-Site': 'cross-site' },
      ]) {
        const answer = await lookup(headers);
        assert.equal(answer.status, 200, `${JSON.stringify(headers)}: ${answer.body}`);
      }
      assert.equal((await ask(hostUrl, 'POST', '/toto', { Authorization: good }, 'x')).status, 200);
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        const { answer, connection } = await exchange(
          hostUrl,
          requestHead(method, '/system', { Authorization: good, Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' }),
          { head: method === 'HEAD' },
        );
        connection.destroy();
        assert.notEqual(answer.status, 403, method);
      }
    });
  });

  describe('timeouts and the connection cap (defect 2)', () => {
    /** Opens `count` connections, `batch` at a time. */
    async function openMany(count: number, batch = 500): Promise<RawConnection[]> {
      const opened: RawConnection[] = [];
      for (let i = 0; i < count; i += batch)
        opened.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => RawConnection.open(hostUrl)))));
      return opened;
    }

    it('closes 2,000 idle and slow-header connections after RequestHeadTimeoutSeconds, answering a legitimate client meanwhile', async () => {
      const idle = await openMany(1000);
      const slow = await openMany(1000);
      // A header line every 500 ms, as a slowloris client keeps a connection alive.
      await Promise.all(slow.map((connection) => connection.write('GET /system HTTP/1.1\r\nHost: localhost\r\n').catch(() => undefined)));
      const drip = setInterval(() => {
        for (const connection of slow) if (connection.state === 'open') void connection.write('X-Slow: 1\r\n').catch(() => undefined);
      }, 500);
      try {
        const held = () => new Promise<number>((resolve) => host.front.server.getConnections((_error, count) => resolve(count)));
        await eventually(async () => (await held()) >= 2000, 8_000, 'the host holds the 2,000 connections');
        const latencies: number[] = [];
        for (let i = 0; i < 5; i += 1) {
          const started = performance.now();
          assert.equal((await ask(hostUrl, 'GET', '/system', { Authorization: good })).status, 200);
          latencies.push(performance.now() - started);
        }
        latencies.sort((a, b) => a - b);
        assert.ok(latencies[2]! < 100, `a legitimate client is answered within 100 ms (median ${latencies[2]!.toFixed(1)} ms)`);
        await eventually(
          () => [...idle, ...slow].every((connection) => connection.state !== 'open'),
          30_000,
          'every idle and slow-header connection closed',
        );
      } finally {
        clearInterval(drip);
        for (const connection of [...idle, ...slow]) connection.destroy();
      }
      const timedOut = idle[0]!;
      assert.match(timedOut.pending.toString('latin1'), /^HTTP\/1\.1 408 /, 'an idle connection gets a 408 before the close');
    });

    it('closes a keep-alive connection idle for KeepAliveTimeoutSeconds', async () => {
      const { answer, connection } = await exchange(hostUrl, requestHead('GET', '/system', { Authorization: good }));
      assert.equal(answer.status, 200);
      assert.equal(await connection.waitForEnd(10_000), 'closed');
      connection.destroy();
    });

    it('closes an upload silent for BodyInactivityTimeoutSeconds, and completes a steady slow one', async () => {
      const from = log.lines.length;
      const stalled = await RawConnection.open(hostUrl);
      await stalled.write(requestHead('POST', '/tools/lookup', { Authorization: good, 'Content-Length': 9 }) + 'HOST');
      const stalledRecipe = await RawConnection.open(hostUrl);
      await stalledRecipe.write(requestHead('POST', '/toto', { Authorization: good, 'Content-Length': 9 }) + 'HOST');
      assert.notEqual(await stalled.waitForEnd(10_000), 'open', 'the stalled upload is closed');
      assert.notEqual(await stalledRecipe.waitForEnd(10_000), 'open', 'the stalled recipe upload is closed');
      stalled.destroy();
      stalledRecipe.destroy();
      await log.waitFor(/^W .*closed the connection of \S+: its POST \/tools\/lookup body was silent for 1 s/, 5_000, from);
      // One byte every 300 ms: 2.7 s in all, longer than the bound, never silent for that long.
      for (const path of ['/tools/lookup', '/toto']) {
        const steady = await RawConnection.open(hostUrl);
        await steady.write(requestHead('POST', path, { Authorization: good, 'Content-Length': 9 }));
        for (const byte of 'HOSTILE-1') {
          await new Promise((resolve) => setTimeout(resolve, 300));
          await steady.write(byte);
        }
        const answer = await steady.readAnswer({ timeoutMs: 10_000 });
        steady.destroy();
        assert.equal(answer.status, 200, `${path}: ${answer.body}`);
      }
    });

    it('closes connections over MaxConnections at once, logs it once per burst, and serves again below the cap', async () => {
      const capped = await startHostInProcess({
        Orthanc: { Url: upstream.url, Username: 'alice', Password: 's3cret' },
        HttpServer: { MaxConnections: 20 },
      });
      const held: RawConnection[] = [];
      try {
        for (let i = 0; i < 20; i += 1) held.push(await RawConnection.open(capped.url));
        await eventually(
          async () => (await new Promise<number>((resolve) => capped.host.front.server.getConnections((_e, n) => resolve(n)))) === 20,
          5_000,
          '20 connections held',
        );
        for (let i = 0; i < 5; i += 1) {
          const over = await RawConnection.open(capped.url);
          await over.write(requestHead('GET', '/system', { Authorization: good })).catch(() => undefined);
          assert.notEqual(await over.waitForEnd(5_000), 'open', 'a connection over the cap is closed');
          assert.equal(over.pending.length, 0, 'without an answer');
          over.destroy();
        }
        await capped.log.waitFor(/^W .*refusing new connections: 20 are open \(HttpServer\.MaxConnections\)/);
        assert.equal(capped.log.lines.filter((line) => /refusing new connections/.test(line)).length, 1, 'one warning for the burst');
        for (const connection of held.splice(0)) connection.destroy();
        await eventually(
          async () => (await new Promise<number>((resolve) => capped.host.front.server.getConnections((_e, n) => resolve(n)))) === 0,
          5_000,
          'the held connections closed',
        );
        assert.equal((await ask(capped.url, 'GET', '/system', { Authorization: good })).status, 200);
      } finally {
        for (const connection of held) connection.destroy();
        await capped.host.close();
      }
    });
  });
});

describe("files are private to the host's user (defect 7)", { timeout: 180_000 }, () => {
  it("makes the state folder 0700 and its files 0600: state.sqlite, the embedded Orthanc's configuration, index and storage, the audit file", async () => {
    const { host, url, directory } = await startHostInProcess({
      Orthanc: {
        Username: 'alice',
        Password: 's3cret',
        Configuration: { AuthenticationEnabled: true, RegisteredUsers: { alice: 's3cret' } },
      },
      Recipes: { 'stored-instances': { Enabled: true, AuditFile: 'audit/stored.jsonl' } },
    });
    try {
      const file = generateStudy({
        patientId: 'MODES-1',
        patientName: 'Modes^One',
        studyDate: '20240101',
        series: [{ modality: 'CT', instances: 1 }],
      })[0]!.file;
      const stored = await fetch(`${url}/instances`, { method: 'POST', headers: { authorization: good }, body: file });
      assert.equal(stored.status, 200);
      const audit = join(directory, 'audit', 'stored.jsonl');
      await eventually(async () => ((await stat(audit).catch(() => undefined))?.size ?? 0) > 0, 20_000, 'the audit line');
      const state = join(directory, 'state');
      const entries = [state, audit, ...(await readdir(state, { recursive: true })).map((name) => join(state, String(name)))];
      const seen = new Set(entries.map((path) => basename(path)));
      for (const name of ['state.sqlite', 'orthanc.json', 'orthanc.log', 'index']) assert.ok(seen.has(name), `${name} exists`);
      assert.ok(entries.length > 8, 'the storage holds the stored file');
      for (const path of entries) {
        const { mode } = await stat(path);
        assert.equal(mode & 0o077, 0, `${path.slice(directory.length)} is ${(mode & 0o777).toString(8)}: nobody else may read it`);
      }
    } finally {
      await host.close();
    }
  });
});
