import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ChangeFeed, ChangeType, OrthancConnection, createLogger } from '../shared/binding/index.js';
import { eventually } from './helpers/changes.js';

describe('the change feed falls back when Orthanc refuses /changes?type= (unit, a fake Orthanc)', () => {
  it('asks with a filter once, then reads every change, and delivers them all', async (t) => {
    let filtered = 0;
    const server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://fake');
      const reply = (status: number, body: unknown) =>
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.pathname === '/system') return reply(200, { ApiVersion: 27, Capabilities: { HasExtendedChanges: true } });
      if (url.searchParams.has('type')) {
        filtered += 1;
        return reply(400, { HttpStatus: 400, Message: 'Parameter out of range' });
      }
      const since = Number(url.searchParams.get('since'));
      const changes = [1, 2]
        .filter((seq) => seq > since)
        .map((seq) => ({ ChangeType: 'NewInstance', ResourceType: 'Instance', ID: `id-${seq}`, Seq: seq }));
      reply(200, { Changes: changes, Done: true, Last: 2 });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const connection = new OrthancConnection({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const feed = new ChangeFeed({
      connection,
      pollIntervalMs: 20,
      log: createLogger('feed', { level: 'error' }),
      cursor: { load: () => 0, save: () => undefined },
    });
    t.after(async () => {
      await feed.stop();
      await connection.close();
      server.closeAllConnections();
      server.close();
    });
    const received: string[] = [];
    feed.subscribe('instances', (change) => void received.push(change.resourceId), [ChangeType.NEW_INSTANCE]);
    await feed.prepare();
    feed.start();
    await eventually(() => received.length === 2, 5_000, 'both changes');
    await new Promise((resolve) => setTimeout(resolve, 200)); // several more polls
    assert.deepEqual(received, ['id-1', 'id-2']);
    assert.equal(filtered, 1, 'a refused filter is not asked for again');
    assert.equal(feed.filtersTypes, false);
  });
});
