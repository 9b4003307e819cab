import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ChangeFeed, ChangeType, OrthancConnection, ResourceType, changeTypeName, createLogger } from '../shared/binding/index.js';
import { eventually } from './helpers/changes.js';

describe('the change feed: deletions from the bridge come after what the feed has read', () => {
  it('a deletion signalled while a page holding the same resource is in flight is delivered after that page', async () => {
    let releasePage: (() => void) | undefined;
    let pageAsked: (() => void) | undefined;
    const asked = new Promise<void>((resolve) => (pageAsked = resolve));
    let served = false;
    // An Orthanc stand-in: `/changes?last` says 0, then one page (held until released) with a
    // NEW_INSTANCE of `x`, then nothing more.
    const server = createServer((request, response) => {
      const answer = (body: unknown) => response.end(JSON.stringify(body));
      if (request.url === '/system') return answer({ ApiVersion: 16, Version: '1.10.1' });
      if (request.url === '/changes?last') return answer({ Changes: [], Done: true, Last: 0 });
      if (served) return answer({ Changes: [], Done: true, Last: 1 });
      served = true;
      releasePage = () =>
        answer({ Changes: [{ ChangeType: 'NewInstance', ResourceType: 'Instance', ID: 'x', Seq: 1 }], Done: true, Last: 1 });
      pageAsked!();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const connection = new OrthancConnection({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const feed = new ChangeFeed({
      connection,
      log: createLogger('feed', { level: 'error' }),
      pollIntervalMs: 10,
      cursor: { load: () => undefined, save: () => undefined },
    });
    const seen: string[] = [];
    feed.subscribe('index', (change) => void seen.push(`${changeTypeName(change.changeType)} ${change.resourceId}`), [
      ChangeType.NEW_INSTANCE,
      ChangeType.DELETED,
    ]);
    try {
      await feed.prepare();
      feed.start();
      await asked;
      feed.inject({ changeType: ChangeType.DELETED, resourceType: ResourceType.INSTANCE, resourceId: 'x' });
      assert.deepEqual(seen, [], 'nothing is delivered while the page is in flight');
      releasePage!();
      await eventually(() => seen.length === 2, 5000, 'both changes');
      assert.deepEqual(seen, ['NEW_INSTANCE x', 'DELETED x']);
      // With no page in flight, a deletion is delivered at once, and only to those who want DELETED.
      feed.inject({ changeType: ChangeType.DELETED, resourceType: ResourceType.STUDY, resourceId: 'y' });
      await eventually(() => seen.length === 3, 5000, 'the second deletion');
      assert.equal(seen[2], 'DELETED y');
    } finally {
      await feed.stop();
      await connection.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
