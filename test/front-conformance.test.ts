import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../host/index.js';
import { eventually } from './helpers/changes.js';
import { generateStudy, writeLargeInstance } from './helpers/dicom.js';
import { startHostInProcess, type LineLog } from './helpers/host.js';
import { basicAuth, comparableHeaders } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';
import { RawConnection, exchange, requestHead, type WireAnswer } from './helpers/raw-http.js';

const MB = 2 ** 20;

/** Runs a program with `input` on its stdin (never spawnSync: the host under test runs in this process). */
function run(
  command: string,
  args: string[],
  input: Buffer,
): Promise<{ status: number | null; stdout: string; stderr: string; missing: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.once('error', () => resolve({ status: null, stdout, stderr, missing: true }));
    child.once('close', (status) => resolve({ status, stdout, stderr, missing: false }));
  });
}
const good = basicAuth('alice', 's3cret');

/** The answer's headers that should be the same straight from Orthanc and through the host. */
const comparable = (answer: WireAnswer) => comparableHeaders(answer.headers);

/**
 * The same raw requests, straight to Orthanc and through the host, compared on status, body and
 * what becomes of the connection. Orthanc requires credentials here, so that challenge-then-retry
 * clients can be tried; every other request carries them.
 */
describe('the front answers every client as Orthanc does (raw sockets, same requests both ways)', { timeout: 240_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let hostUrl: string;
  let log: LineLog;
  let small: Buffer;
  let upload: Buffer;
  let largeId: string;
  let studyId: string;

  before(async () => {
    // Few HTTP threads, so that a connection Orthanc kept waiting on would soon be noticed.
    orthanc = await startTestOrthanc({
      configuration: { AuthenticationEnabled: true, RegisteredUsers: { alice: 's3cret' }, HttpThreadsCount: 8 },
      credentials: { username: 'alice', password: 's3cret' },
    });
    small = generateStudy({
      patientId: 'CONF-1',
      patientName: 'Conformance^One',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 1 }],
    })[0]!.file;
    studyId = (await orthanc.upload(small)).ParentStudy;
    const uploadPath = join(orthanc.directory, 'upload.dcm');
    await writeLargeInstance(uploadPath, 6 * MB);
    upload = await readFile(uploadPath);
    const largePath = join(orthanc.directory, 'large.dcm');
    await writeLargeInstance(largePath, 24 * MB);
    largeId = (await orthanc.upload(await readFile(largePath))).ID;
    ({
      host,
      url: hostUrl,
      log,
    } = await startHostInProcess({
      Orthanc: { Url: orthanc.url, Username: 'alice', Password: 's3cret' },
      HttpServer: { MaxRecipeBodyMegabytes: 1 },
      Recipes: { hello: { Enabled: true } },
    }));
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  const both = () => [
    { side: 'Orthanc', url: orthanc.url },
    { side: 'host', url: hostUrl },
  ];

  /** Nothing is left in flight in the host, nor on its connections to Orthanc, and both still answer. */
  async function nothingLeftHanging(): Promise<void> {
    await eventually(() => host.front.inFlight === 0, 20_000, 'no request in flight in the host');
    await eventually(() => host.connection.pool.stats.running === 0, 20_000, 'no request running to Orthanc');
    for (const { side, url } of both()) {
      const { answer, connection } = await exchange(url, requestHead('GET', '/system', { Authorization: good }), { timeoutMs: 10_000 });
      connection.destroy();
      assert.equal(answer.status, 200, `${side} still answers`);
    }
  }

  /** Asserts that the connection still carries a request. */
  async function stillUsable(connection: RawConnection, label: string): Promise<void> {
    await connection.write(requestHead('GET', '/system', { Authorization: good }));
    assert.equal((await connection.readAnswer()).status, 200, `${label}: the connection carries the next request`);
  }

  it('ignores an Expect it does not know (an empty one, as some Python clients send), as Orthanc does', async () => {
    for (const expect of ['', 'foo', 'something-else=1']) {
      const answers: WireAnswer[] = [];
      for (const { side, url } of both()) {
        const { answer, connection } = await exchange(
          url,
          requestHead('POST', '/tools/lookup', { Authorization: good, Expect: expect, 'Content-Length': 6 }) + 'CONF-1',
        );
        assert.equal(answer.status, 200, `Expect: "${expect}" to ${side}: ${answer.body}`);
        await stillUsable(connection, side);
        connection.destroy();
        answers.push(answer);
      }
      assert.deepEqual(answers[1]!.body, answers[0]!.body, `Expect: "${expect}"`);
    }
    // The same through curl, as in the issue: `-H 'Expect;'` sends an empty Expect header.
    for (const { side, url } of both()) {
      const curl = await run(
        'curl',
        [
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-H',
          'Expect;',
          '-u',
          'alice:s3cret',
          '-X',
          'POST',
          '--data-binary',
          '@-',
          `${url}/instances`,
        ],
        small,
      );
      if (curl.missing) continue; // no curl on this machine
      assert.equal(curl.stdout, '200', `curl -H 'Expect;' to ${side}`);
    }
  });

  it('answers Expect: 100-continue: the host sends 100 at once where Orthanc never does (clients wait ~1 s, then send)', async () => {
    const answers: WireAnswer[] = [];
    for (const { side, url } of both()) {
      const connection = await RawConnection.open(url);
      await connection.write(
        requestHead('POST', '/instances', { Authorization: good, Expect: '100-continue', 'Content-Length': upload.length }),
      );
      if (side === 'host') {
        await eventually(
          () => connection.pending.toString('latin1').startsWith('HTTP/1.1 100 Continue\r\n\r\n'),
          5_000,
          '100 Continue from the host',
        );
      }
      await connection.write(upload);
      const answer = await connection.readAnswer({ timeoutMs: 30_000 });
      assert.equal(answer.status, 200, side);
      assert.deepEqual(answer.interim, side === 'host' ? [100] : [], side);
      await stillUsable(connection, side);
      connection.destroy();
      answers.push(answer);
    }
    assert.equal(JSON.parse(answers[1]!.body.toString()).ID, JSON.parse(answers[0]!.body.toString()).ID);
  });

  it('answers Expect: 100-continue without valid credentials with the 401 challenge before any upload, as Orthanc does', async () => {
    const answers: WireAnswer[] = [];
    for (const { side, url } of both()) {
      const connection = await RawConnection.open(url);
      await connection.write(requestHead('POST', '/instances', { Expect: '100-continue', 'Content-Length': upload.length }));
      const answer = await connection.readAnswer({ timeoutMs: 1_000 });
      assert.equal(answer.status, 401, side);
      assert.deepEqual(answer.interim, [], `${side} sends no 100 Continue`);
      connection.destroy();
      answers.push(answer);
    }
    assert.equal(answers[1]!.headers['www-authenticate'], answers[0]!.headers['www-authenticate']);
  });

  it('serves the authenticated retry of a challenged upload on the same keep-alive connection (the client sends its whole body first)', async () => {
    for (const { side, url } of both()) {
      const connection = await RawConnection.open(url);
      // As httplib2, .NET's HttpClient or Java's Authenticator: send everything, then read.
      const sent = connection.write(
        Buffer.concat([Buffer.from(requestHead('POST', '/instances', { 'Content-Length': upload.length })), upload]),
      );
      const challenge = await connection.readAnswer({ timeoutMs: 1_000 });
      await sent;
      assert.equal(challenge.status, 401, side);
      assert.notEqual(challenge.headers.connection, 'close', `${side} keeps the connection`);
      await connection.write(
        Buffer.concat([Buffer.from(requestHead('POST', '/instances', { Authorization: good, 'Content-Length': upload.length })), upload]),
      );
      // The host used to leave the retry unread, and the client got a reset after about 6 s.
      const retry = await connection.readAnswer({ timeoutMs: 5_000 });
      assert.equal(retry.status, 200, `${side}: ${retry.body}`);
      assert.equal(connection.state, 'open', side);
      connection.destroy();
    }
  });

  it('serves the retry the same way for a chunked upload and for a recipe route', async () => {
    const chunked = (headers: Record<string, string>) =>
      Buffer.concat([
        Buffer.from(requestHead('POST', '/instances', { ...headers, 'Transfer-Encoding': 'chunked' })),
        Buffer.from(`${upload.length.toString(16)}\r\n`),
        upload,
        Buffer.from('\r\n0\r\n\r\n'),
      ]);
    for (const { side, url } of both()) {
      const connection = await RawConnection.open(url);
      const sent = connection.write(chunked({}));
      assert.equal((await connection.readAnswer({ timeoutMs: 1_000 })).status, 401, side);
      await sent;
      await connection.write(chunked({ Authorization: good }));
      assert.equal((await connection.readAnswer({ timeoutMs: 5_000 })).status, 200, side);
      connection.destroy();
    }
    const connection = await RawConnection.open(hostUrl);
    const sent = connection.write(Buffer.concat([Buffer.from(requestHead('POST', '/toto', { 'Content-Length': upload.length })), upload]));
    assert.equal((await connection.readAnswer({ timeoutMs: 1_000 })).status, 401);
    await sent;
    await connection.write(requestHead('POST', '/toto', { Authorization: good, 'Content-Length': 2 }) + 'hi');
    const retry = await connection.readAnswer({ timeoutMs: 5_000 });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.toString(), 'ok\n');
    connection.destroy();
  });

  it('answers 413 to a recipe body over MaxRecipeBodyMegabytes, and the connection carries on', async () => {
    const connection = await RawConnection.open(hostUrl);
    const sent = connection.write(
      Buffer.concat([
        Buffer.from(requestHead('POST', '/toto', { Authorization: good, 'Content-Length': 3 * MB })),
        Buffer.alloc(3 * MB, 1),
      ]),
    );
    const answer = await connection.readAnswer();
    await sent;
    assert.equal(answer.status, 413);
    assert.equal(JSON.parse(answer.body.toString()).HttpStatus, 413);
    await stillUsable(connection, 'after a 413');
    connection.destroy();
  });

  it('closes cleanly, never with a reset, after an early answer to a body over the drain limit', async () => {
    const size = 80 * MB; // over the default 64 MiB
    const connection = await RawConnection.open(hostUrl);
    await connection.write(requestHead('POST', '/instances', { 'Content-Length': size }));
    const writing = connection.writeFiller(size);
    const answer = await connection.readAnswer();
    assert.equal(answer.status, 401);
    assert.equal(answer.headers.connection, 'close');
    assert.equal(await writing, size, 'the host reads what the client still sends before it closes');
    assert.equal(await connection.waitForEnd(10_000), 'closed');
    connection.destroy();

    // A chunked body announces no length: the host keeps the connection, drops up to the limit,
    // then closes without a reset.
    const chunked = await RawConnection.open(hostUrl);
    await chunked.write(requestHead('POST', '/instances', { 'Transfer-Encoding': 'chunked' }) + `${size.toString(16)}\r\n`);
    const chunkedWriting = chunked.writeFiller(size).then(
      async (written) =>
        await chunked.write('\r\n0\r\n\r\n').then(
          () => written,
          () => written,
        ),
    );
    const chunkedAnswer = await chunked.readAnswer();
    assert.equal(chunkedAnswer.status, 401);
    assert.equal(await chunkedWriting, size, 'the host reads what the client still sends before it closes');
    assert.equal(await chunked.waitForEnd(10_000), 'closed');
    chunked.destroy();
    // Orthanc itself reads and drops the whole body, however large, and keeps the connection.
    await nothingLeftHanging();
  });

  it('answers HEAD and OPTIONS as Orthanc does', async () => {
    for (const [method, path] of [
      ['HEAD', '/system'],
      ['HEAD', `/instances/${largeId}/file`],
      ['OPTIONS', '/system'],
      ['OPTIONS', '/instances'],
    ] as const) {
      const answers: WireAnswer[] = [];
      for (const { url } of both()) {
        const { answer, connection } = await exchange(url, requestHead(method, path, { Authorization: good }), { head: method === 'HEAD' });
        await stillUsable(connection, `${method} ${path}`);
        connection.destroy();
        answers.push(answer);
      }
      const [direct, viaHost] = answers as [WireAnswer, WireAnswer];
      assert.equal(viaHost.status, direct.status, `${method} ${path}`);
      assert.deepEqual(comparable(viaHost), comparable(direct), `${method} ${path}`);
      assert.deepEqual(viaHost.body, direct.body, `${method} ${path}`);
    }
  });

  it('gives HTTP/1.0 clients a body they can read to the close, even where Orthanc sends no length', async () => {
    for (const path of ['/system', `/studies/${studyId}/archive`]) {
      const answers: WireAnswer[] = [];
      for (const { side, url } of both()) {
        const connection = await RawConnection.open(url);
        await connection.write(requestHead('GET', path, { Authorization: good }, 'HTTP/1.0'));
        // Orthanc says `Connection: keep-alive` to an HTTP/1.0 client, then closes all the same.
        assert.equal(await connection.waitForEnd(10_000), 'closed', `${side} ${path}`);
        const answer = await connection.readAnswer();
        assert.equal(answer.status, 200, `${side} ${path}`);
        assert.notEqual(answer.headers['transfer-encoding'], 'chunked', `${side} ${path}: no chunked body for HTTP/1.0`);
        connection.destroy();
        answers.push(answer);
      }
      // A ZIP archive embeds the time it was made, so only its size is compared.
      if (path.endsWith('/archive')) assert.equal(answers[1]!.body.length, answers[0]!.body.length, path);
      else assert.deepEqual(answers[1]!.body, answers[0]!.body, path);
    }
  });

  it('answers pipelined requests in order', async () => {
    const find = JSON.stringify({ Level: 'Study', Query: {} });
    const requests =
      requestHead('GET', '/system', { Authorization: good }) +
      requestHead('GET', '/no/such/route', { Authorization: good }) +
      requestHead('POST', '/tools/find', { Authorization: good, 'Content-Length': find.length }) +
      find +
      requestHead('GET', '/patients', { Authorization: good }) +
      requestHead('GET', '/toto', { Authorization: good });
    const answers: WireAnswer[][] = [];
    for (const { side, url } of both()) {
      const connection = await RawConnection.open(url);
      await connection.write(requests);
      const received: WireAnswer[] = [];
      for (let i = 0; i < 5; i += 1) received.push(await connection.readAnswer({ timeoutMs: 10_000 }));
      assert.equal(connection.state, 'open', side);
      connection.destroy();
      answers.push(received);
    }
    const [direct, viaHost] = answers as [WireAnswer[], WireAnswer[]];
    assert.deepEqual(
      viaHost.slice(0, 4).map((a) => [a.status, a.body.toString()]),
      direct.slice(0, 4).map((a) => [a.status, a.body.toString()]),
    );
    assert.equal(direct[4]!.status, 404, "/toto is not Orthanc's");
    assert.equal(viaHost[4]!.body.toString(), 'ok\n', 'a recipe route in the pipeline');
  });

  it('treats a Content-Length shorter than the body as Orthanc does: the extra bytes are the next request', async () => {
    const answers: WireAnswer[][] = [];
    for (const { side, url } of both()) {
      const connection = await RawConnection.open(url);
      await connection.write(
        requestHead('POST', '/tools/lookup', { Authorization: good, 'Content-Length': 6 }) + 'CONF-1trailing garbage\r\n\r\n',
      );
      const first = await connection.readAnswer();
      const second = await connection.readAnswer();
      assert.equal(await connection.waitForEnd(), 'closed', `${side} closes after the unparsable rest`);
      connection.destroy();
      answers.push([first, second]);
    }
    const [[direct, directRest], [viaHost, hostRest]] = answers as [[WireAnswer, WireAnswer], [WireAnswer, WireAnswer]];
    assert.equal(viaHost.status, direct.status);
    assert.deepEqual(viaHost.body, direct.body);
    assert.equal(directRest.status, 400);
    assert.equal(hostRest.status, 400);
    assert.equal(JSON.parse(hostRest.body.toString()).HttpStatus, 400, 'the host explains in JSON');
  });

  it('waits, as Orthanc does, for a Content-Length longer than the body, and frees everything when the client gives up', async () => {
    for (const { side, url } of both()) {
      const connection = await RawConnection.open(url);
      await connection.write(requestHead('POST', '/tools/lookup', { Authorization: good, 'Content-Length': 100 }) + 'CONF-1');
      if (side === 'host') await eventually(() => host.connection.pool.stats.running === 1, 10_000, 'the request on its way to Orthanc');
      await assert.rejects(connection.readAnswer({ timeoutMs: 300 }), /no complete answer/, side);
      connection.destroy();
    }
    await nothingLeftHanging();
  });

  it('answers very long URLs and many headers as Orthanc does, and refuses a head over 16 KiB with a JSON 4xx', async () => {
    const cases = [
      { label: 'a 15 000-byte URL', request: requestHead('GET', `/system?pad=${'a'.repeat(15_000)}`, { Authorization: good }), fits: true },
      {
        label: '200 headers',
        request: requestHead('GET', '/system', {
          Authorization: good,
          ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`X-Header-${i}`, `value ${i}`])),
        }),
        fits: true,
      },
      {
        label: 'a 17 000-byte URL',
        request: requestHead('GET', `/system?pad=${'a'.repeat(17_000)}`, { Authorization: good }),
        fits: false,
      },
      {
        label: 'a 20 000-byte header',
        request: requestHead('GET', '/system', { Authorization: good, 'X-Big': 'b'.repeat(20_000) }),
        fits: false,
      },
    ];
    for (const { label, request, fits } of cases) {
      const answers: WireAnswer[] = [];
      for (const { side, url } of both()) {
        const { answer, connection } = await exchange(url, request);
        if (fits) await stillUsable(connection, `${side}, ${label}`);
        else assert.equal(await connection.waitForEnd(), 'closed', `${side} closes cleanly after refusing ${label}`);
        connection.destroy();
        answers.push(answer);
      }
      const [direct, viaHost] = answers as [WireAnswer, WireAnswer];
      if (fits) {
        assert.equal(viaHost.status, direct.status, label);
        assert.deepEqual(viaHost.body, direct.body, label);
      } else {
        // Orthanc: 400 "Malformed message" in text; the host: 431 in JSON. Both 4xx and close.
        assert.equal(direct.status, 400, label);
        assert.equal(viaHost.status, 431, label);
        assert.deepEqual(Object.keys(JSON.parse(viaHost.body.toString())), ['HttpError', 'HttpStatus', 'Message', 'Code']);
      }
    }
    await log.waitFor(/^W .*refused a request from \S+ with 431: the request line and headers exceed 16 KiB \(HPE_HEADER_OVERFLOW\)/);
  });

  it('refuses what it cannot parse or route with a clean JSON 4xx and a warning, where Orthanc answers 4xx or just closes', async () => {
    const cases = [
      {
        label: 'garbage',
        request: 'HELLO\r\n\r\n',
        warning: /refused a request from \S+ with 400: unparsable request: .*\(HPE_INVALID_METHOD\)/,
      },
      {
        label: 'a malformed Content-Length',
        request: requestHead('POST', '/tools/lookup', { Authorization: good, 'Content-Length': 'abc' }),
        warning: /with 400: unparsable request: .*Content-Length \(HPE_INVALID_CONTENT_LENGTH\)/,
      },
      // Orthanc takes the first of two Content-Length values; RFC 9112 §6.3 makes this an
      // unrecoverable error (request smuggling), so the host refuses it.
      {
        label: 'two Content-Lengths',
        request: 'POST /tools/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde',
        warning: /with 400: .*\(HPE_UNEXPECTED_CONTENT_LENGTH\)/,
      },
      // Orthanc closes without an answer on `OPTIONS *` and on an absolute URL.
      {
        label: 'OPTIONS *',
        request: requestHead('OPTIONS', '*', { Authorization: good }),
        warning: /refused OPTIONS \* from \S+ with 400: the request target must be a path/,
      },
      {
        label: 'an absolute URL',
        request: requestHead('GET', 'http://localhost/system', { Authorization: good }),
        warning: /refused GET \/system from \S+ with 400: the request target must be a path/,
      },
    ];
    for (const { label, request, warning } of cases) {
      const { answer, connection } = await exchange(hostUrl, request);
      assert.ok(answer.status >= 400 && answer.status < 500, `${label}: ${answer.status}`);
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/, label);
      assert.equal(JSON.parse(answer.body.toString()).HttpStatus, answer.status, label);
      connection.destroy();
      await log.waitFor(new RegExp(`^W .*${warning.source}`));
    }
  });

  it("keeps Orthanc's own error answers and their JSON bodies", async () => {
    const cases = [
      requestHead('GET', '/no/such/route', { Authorization: good }),
      requestHead('GET', '/instances/unknown-id', { Authorization: good }),
      requestHead('POST', '/tools/find', { Authorization: good, 'Content-Length': 9 }) + '{not json',
      requestHead('POST', '/tools/find', { Authorization: good, 'Content-Length': 2 }) + '{}',
      requestHead('DELETE', '/system', { Authorization: good }),
      requestHead('GET', '/system', { Authorization: basicAuth('alice', 'wrong') }),
    ];
    for (const request of cases) {
      const label = request.split('\r\n')[0]!;
      const answers: WireAnswer[] = [];
      for (const { url } of both()) {
        const { answer, connection } = await exchange(url, request);
        await stillUsable(connection, label);
        connection.destroy();
        answers.push(answer);
      }
      const [direct, viaHost] = answers as [WireAnswer, WireAnswer];
      assert.ok(direct.status >= 400, `${label}: ${direct.status}`);
      assert.equal(viaHost.status, direct.status, label);
      assert.equal(viaHost.reason, direct.reason, label);
      assert.deepEqual(comparable(viaHost), comparable(direct), label);
      assert.deepEqual(viaHost.body, direct.body, label);
    }
  });

  it('leaves nothing hanging, on either side, when clients disconnect mid-upload and mid-download', async () => {
    // More times than Orthanc has HTTP threads: a connection left open to Orthanc would show.
    for (let i = 0; i < 12; i += 1) {
      const connection = await RawConnection.open(hostUrl);
      await connection.write(requestHead('POST', '/instances', { Authorization: good, 'Content-Length': 50 * MB }));
      await connection.writeFiller(2 * MB);
      await eventually(() => host.front.inFlight > 0, 10_000, 'the upload under way');
      connection.destroy();
    }
    await nothingLeftHanging();
    for (let i = 0; i < 12; i += 1) {
      const connection = await RawConnection.open(hostUrl);
      await connection.write(requestHead('GET', `/instances/${largeId}/file`, { Authorization: good }));
      await eventually(() => connection.pending.length > 64 * 1024, 10_000, 'the download under way');
      connection.destroy();
    }
    await nothingLeftHanging();
  });

  it("works for Python's http.client: an empty Expect, and a challenge then a retry on one connection", async (t) => {
    const script = `
import base64, http.client, sys
host, port = sys.argv[1], int(sys.argv[2])
body = sys.stdin.buffer.read()
connection = http.client.HTTPConnection(host, port, timeout=10)
connection.request('POST', '/instances', body, {'Expect': '', 'Content-Type': 'application/dicom'})
first = connection.getresponse(); first.read()
auth = 'Basic ' + base64.b64encode(b'alice:s3cret').decode()
connection.request('POST', '/instances', body, {'Expect': '', 'Authorization': auth})
second = connection.getresponse(); second.read()
print(first.status, second.status)
`;
    const statuses: string[] = [];
    for (const { url } of both()) {
      const { hostname, port } = new URL(url);
      const python = await run('python3', ['-c', script, hostname, port], upload);
      if (python.missing) return t.skip('python3 is not installed');
      assert.equal(python.status, 0, python.stderr);
      statuses.push(python.stdout.trim());
    }
    assert.deepEqual(statuses, ['401 200', '401 200']);
  });
});
