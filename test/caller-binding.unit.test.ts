import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  OrthancConnection,
  OrthancHttpError,
  RequestFilters,
  basicUsername,
  callerCredentials,
  createCallerBinding,
  createLogger,
  type OrthancBinding,
} from '../shared/binding/index.js';
import { CallerRights } from '../shared/caller-rights.js';
import { HostActionGate } from '../host/caller-access.js';

describe("the caller's binding: credentials over the host's pool", () => {
  const received: IncomingHttpHeaders[] = [];
  const server = createServer((request, response) => {
    received.push(request.headers);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{}');
  });
  let connection: OrthancConnection;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    connection = new OrthancConnection({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      username: 'host',
      password: 'host-pw',
    });
  });
  after(async () => {
    await connection.close();
    server.close();
  });

  const last = () => received.at(-1)!;

  it("sends the caller's credentials, never the host's, and lets no call add its own", async () => {
    await connection.send('GET', '/system');
    assert.equal(last().authorization, connection.authorization, "the host's own binding");

    const anonymous = callerCredentials({ 'x-other': 'kept' }, ['Token']);
    const asAnonymous = createCallerBinding(connection.withCredentials(anonymous.headers, anonymous.names));
    await asAnonymous.restApiGet('/system', { Authorization: 'Basic forged', token: 'forged', 'x-other': 'kept' });
    assert.equal(last().authorization, undefined, 'a caller without credentials stays without');
    assert.equal(last().token, undefined);
    assert.equal(last()['x-other'], 'kept', 'other headers of the call go through');

    const caller = callerCredentials({ authorization: 'Basic dmlld2VyOnB3', token: 'abc', cookie: 'never' }, ['token']);
    const asCaller = createCallerBinding(connection.withCredentials(caller.headers, caller.names));
    await asCaller.restApiPostJson('/tools/find', { Level: 'Study' });
    assert.equal(last().authorization, 'Basic dmlld2VyOnB3');
    assert.equal(last().token, 'abc');
    assert.equal(last().cookie, undefined, 'only the credential headers');

    await connection.send('GET', '/system');
    assert.equal(last().authorization, connection.authorization, "the host's binding is unchanged");
    assert.throws(() => asCaller.registerRestCallback('/x', () => undefined), /only calls Orthanc/);
  });

  it('keys callers by their credentials, without the secret', () => {
    assert.equal(callerCredentials({}).id, 'anonymous');
    const a = callerCredentials({ authorization: 'Basic YTpi' });
    assert.notEqual(a.id, callerCredentials({ authorization: 'Basic YTpj' }).id);
    assert.notEqual(a.id, callerCredentials({ authorization: 'Basic YTpi', token: 't' }, ['token']).id);
    assert.ok(!a.id.includes('YTpi'));
    assert.equal(basicUsername('Basic dmlld2VyOnB3'), 'viewer');
    assert.equal(basicUsername('Bearer abc'), undefined);
    assert.equal(basicUsername('Basic Om5vbmFtZQ=='), undefined, 'an empty user name');
  });
});

describe('incoming-request filters', () => {
  const request = { method: 'GET', headers: {}, ip: '127.0.0.1', username: undefined, get: {} };

  it('run in order; all must return true; a throw or a non-boolean refuses', async () => {
    const filters = new RequestFilters();
    const calls: string[] = [];
    filters.register('a', (uri) => (calls.push(`a ${uri}`), uri !== '/refused-by-a'));
    const removeB = filters.register('b', async (uri) => {
      calls.push(`b ${uri}`);
      if (uri === '/throw') throw new Error('boom');
      return (uri === '/undefined' ? undefined : true) as boolean;
    });
    assert.deepEqual(await filters.decide('/ok', request), { allowed: true });
    assert.deepEqual(await filters.decide('/refused-by-a', request), { allowed: false, owner: 'a', reason: 'refused by the filter' });
    assert.deepEqual(calls.slice(-1), ['a /refused-by-a'], 'the first refusal stops the others');
    assert.deepEqual(await filters.decide('/throw', request), { allowed: false, owner: 'b', reason: 'the filter failed: boom' });
    assert.equal((await filters.decide('/undefined', request)).allowed, false);
    removeB();
    assert.equal(filters.size, 1);
    assert.deepEqual(await filters.decide('/throw', request), { allowed: true });
  });
});

describe('CallerRights', () => {
  it('keeps a granted right per caller and URI, and never a refusal', async () => {
    const asked: string[] = [];
    const callerAs = (callerId: string, refused: Set<string>) => ({
      callerId,
      orthanc: {
        restApiGet: async (uri: string) => {
          asked.push(`${callerId} ${uri}`);
          if (refused.has(uri)) throw new OrthancHttpError('GET', uri, 403, 'refused');
          return Buffer.alloc(0);
        },
      } as unknown as OrthancBinding,
    });
    const rights = new CallerRights();
    const admin = callerAs('admin', new Set());
    const viewer = callerAs('viewer', new Set(['/instances/a']));
    await rights.ensure(admin, '/instances/a');
    await rights.ensure(admin, '/instances/a');
    await assert.rejects(rights.ensure(viewer, '/instances/a'), { httpStatus: 403 });
    await assert.rejects(rights.ensure(viewer, '/instances/a'), { httpStatus: 403 });
    await rights.ensure(viewer, '/instances/b');
    assert.deepEqual(asked, ['admin /instances/a', 'viewer /instances/a', 'viewer /instances/a', 'viewer /instances/b']);
  });
});

describe('HostActionGate: the probe fails closed', () => {
  const probes: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    const who = request.headers.authorization;
    probes.push(who);
    const status = who === 'admin' ? 200 : who === 'viewer' ? 403 : who === 'broken' ? 500 : 401;
    response.writeHead(status, status === 401 ? { 'www-authenticate': 'Basic realm="Test Realm"' } : {});
    response.end();
  });
  let connection: OrthancConnection;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    connection = new OrthancConnection({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  after(async () => {
    await connection.close();
    server.closeAllConnections();
    server.close();
  });

  it('lets in on a 2xx only, keeps only that, replays a 401 and gives 403 or 503 otherwise', async () => {
    const gate = new HostActionGate(connection, {}, [], createLogger('test', { level: 'error' }));
    const as = (authorization?: string) => gate.check({ headers: authorization ? { authorization } : {} } as IncomingMessage);
    assert.deepEqual(await as('admin'), { allowed: true });
    assert.deepEqual(await as('admin'), { allowed: true });
    assert.equal((await as('viewer')).allowed, false);
    assert.equal(((await as('viewer')) as { status: number }).status, 403);
    assert.deepEqual(await as(), { allowed: false, status: 401, challenge: 'Basic realm="Test Realm"' });
    assert.equal(((await as('broken')) as { status: number }).status, 503);
    assert.deepEqual(probes, ['admin', 'viewer', 'viewer', undefined, 'broken'], 'only the 2xx was kept');
    const away = new OrthancConnection({ url: 'http://127.0.0.1:1' });
    const unreachable = new HostActionGate(away, {}, [], createLogger('test', { level: 'error' }));
    assert.equal(((await unreachable.check({ headers: {} } as IncomingMessage)) as { status: number }).status, 503, 'Orthanc out of reach');
    await away.close();
  });
});
