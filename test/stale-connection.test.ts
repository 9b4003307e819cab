import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { OrthancConnection, OrthancUnreachableError, RestRouter, createLogger } from '../shared/binding/index.js';
import { HttpFront } from '../shared/host/front.js';
import { rawRequest } from './helpers/http.js';

/**
 * Orthanc closes an idle keep-alive connection after 1 s, and now and then a request leaves on it
 * just as it closes. This server reproduces that race on purpose: it drops the second request of
 * every connection without answering.
 */
describe('a keep-alive connection closed under a request (unit, a loopback server)', () => {
  let server: Server;
  let url: string;
  let received = 0;

  before(async () => {
    server = createServer((request, response) => {
      received += 1;
      const socket = request.socket as typeof request.socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (socket.served === 2) return void socket.destroy();
      response.end(JSON.stringify({ ok: true, method: request.method }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('sends an idempotent call once more on a new connection', async (t) => {
    const connection = new OrthancConnection({ url, connections: 1 });
    t.after(() => connection.close());
    for (let i = 0; i < 4; i += 1) assert.deepEqual(await connection.callJson('GET', '/system'), { ok: true, method: 'GET' });
  });

  it('never sends a POST twice', async (t) => {
    const connection = new OrthancConnection({ url, connections: 1 });
    t.after(() => connection.close());
    await connection.callJson('POST', '/tools/find', {});
    const before = received;
    await assert.rejects(connection.callJson('POST', '/tools/find', {}), OrthancUnreachableError);
    assert.equal(received, before + 1);
  });

  it('retries a proxied GET the same way, so the client never sees a 502 for it', async (t) => {
    const connection = new OrthancConnection({ url, connections: 1 });
    const front = new HttpFront({ connection, router: new RestRouter(), log: createLogger('test', { level: 'error' }), maxRecipeBodyBytes: 1024 });
    const address = await front.listen('127.0.0.1', 0);
    t.after(async () => {
      await front.close();
      await connection.close();
    });
    for (let i = 0; i < 4; i += 1) {
      const answer = await rawRequest(`http://127.0.0.1:${address.port}/system`);
      assert.equal(answer.status, 200, `request ${i}: ${answer.body.toString()}`);
    }
  });
});
