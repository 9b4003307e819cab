import assert from 'node:assert/strict';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createHttpServer, hasTooManyHeaderLines, replaceDestroySoon } from '../host/node-http.js';
import { eventually } from './helpers/changes.js';
import { RawConnection, requestHead } from './helpers/raw-http.js';

/**
 * What the front relies on in Node's HTTP server beyond its documented API (host/node-http.ts),
 * checked on the Node that runs the suite: CI runs it on Node 20 and 24, so a release that changes
 * one of these fails here first, not in the front's behaviour.
 */
describe(`Node's HTTP internals the front relies on (Node ${process.version})`, () => {
  let server: Server;
  let url: string;
  const seen: { request: IncomingMessage; expectsContinue: boolean }[] = [];
  const clientErrors: string[] = [];
  let drops = 0;
  const destroySoonCalls: Socket[] = [];

  before(async () => {
    server = createHttpServer(
      { headTimeoutMs: 400, keepAliveTimeoutMs: 5_000, maxConnections: 5 },
      {
        request(request: IncomingMessage, response: ServerResponse, expectsContinue: boolean) {
          seen.push({ request, expectsContinue });
          if (request.url === '/close')
            replaceDestroySoon(request.socket, () => (destroySoonCalls.push(request.socket), request.socket.destroy()));
          request.resume();
          request.once('end', () => {
            response.writeHead(200, { 'content-length': 2, ...(request.url === '/close' ? { connection: 'close' } : {}) });
            response.end('ok');
          });
        },
        clientError(error: NodeJS.ErrnoException, socket: Socket) {
          clientErrors.push(error.code ?? error.message);
          socket.destroy();
        },
        drop() {
          drops += 1;
        },
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('closes a connection that sends nothing, or headers too slowly, with ERR_HTTP_REQUEST_TIMEOUT although requestTimeout is 0', async () => {
    assert.equal(server.requestTimeout, 0);
    const idle = await RawConnection.open(url);
    const slow = await RawConnection.open(url);
    await slow.write('GET / HTTP/1.1\r\n');
    const drip = setInterval(() => void slow.write('X-Slow: 1\r\n').catch(() => undefined), 100);
    try {
      await eventually(() => idle.state !== 'open' && slow.state !== 'open', 10_000, 'both closed');
    } finally {
      clearInterval(drip);
      idle.destroy();
      slow.destroy();
    }
    assert.ok(clientErrors.filter((code) => code === 'ERR_HTTP_REQUEST_TIMEOUT').length >= 2, clientErrors.join());
  });

  it('keeps only 1,000 header lines in request.headers, Transfer-Encoding included, while still decoding the body', async () => {
    for (const [count, tooMany] of [
      [997, false],
      [1001, true],
    ] as const) {
      const headers: Record<string, string> = {};
      for (let i = 0; i < count; i += 1) headers[`h${i}`] = '1';
      const connection = await RawConnection.open(url);
      await connection.write(
        requestHead('POST', `/headers-${count}`, { ...headers, 'Transfer-Encoding': 'chunked' }) + '2\r\nhi\r\n0\r\n\r\n',
      );
      const overflowsBefore = clientErrors.filter((code) => code === 'HPE_HEADER_OVERFLOW').length;
      const answer = await connection.readAnswer().catch((error: unknown) => error as Error);
      connection.destroy();
      if (answer instanceof Error) {
        // Node 24 refuses such a head itself (HPE_HEADER_OVERFLOW, which the front answers 431):
        // then no request with lost headers can reach the front at all.
        assert.ok(
          clientErrors.filter((code) => code === 'HPE_HEADER_OVERFLOW').length > overflowsBefore,
          `${count} headers: ${answer.message}; client errors: ${clientErrors.join()}`,
        );
        continue;
      }
      assert.equal(answer.status, 200);
      const { request } = seen.find((s) => s.request.url === `/headers-${count}`)!;
      assert.equal(hasTooManyHeaderLines(request), tooMany, `${count} headers`);
      assert.equal(
        request.headers['transfer-encoding'] === undefined,
        tooMany,
        `${count} headers: Transfer-Encoding ${tooMany ? 'lost' : 'kept'}`,
      );
    }
  });

  it('lets the front decide on Expect: an unknown one is ignored (no 417), 100-continue is not answered by Node', async () => {
    const unknown = await RawConnection.open(url);
    await unknown.write(requestHead('POST', '/expect-unknown', { Expect: 'something-else', 'Content-Length': 2 }) + 'hi');
    assert.equal((await unknown.readAnswer()).status, 200);
    unknown.destroy();
    const continued = await RawConnection.open(url);
    await continued.write(requestHead('POST', '/expect-continue', { Expect: '100-continue', 'Content-Length': 2 }));
    await eventually(() => seen.some((s) => s.request.url === '/expect-continue'), 5_000, 'the request handed over');
    assert.equal(seen.find((s) => s.request.url === '/expect-continue')!.expectsContinue, true);
    assert.equal(continued.pending.length, 0, 'Node sent no 100 Continue by itself');
    await continued.write('hi');
    assert.deepEqual((await continued.readAnswer()).interim, []);
    continued.destroy();
  });

  it('closes a Connection: close answer through socket.destroySoon, which the front replaces', async () => {
    const connection = await RawConnection.open(url);
    await connection.write(requestHead('GET', '/close'));
    assert.equal((await connection.readAnswer()).status, 200);
    await eventually(() => destroySoonCalls.length === 1, 5_000, 'destroySoon called');
    connection.destroy();
  });

  it('closes connections over maxConnections at once and emits drop', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => RawConnection.open(url)));
    await eventually(
      async () => (await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) === 5,
      5_000,
      '5 connections',
    );
    const over = await RawConnection.open(url);
    assert.notEqual(await over.waitForEnd(5_000), 'open');
    over.destroy();
    for (const connection of held) connection.destroy();
    assert.equal(drops, 1);
  });
});
