import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../../../host/index.js';
import { startHostInProcess } from '../../../test/helpers/host.js';
import { basicAuth, rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { compileRules, decideByRules } from '../rules.js';

const admin = { authorization: basicAuth('admin', 'admin-pw') };
const viewer = { authorization: basicAuth('viewer', 'viewer-pw') };
const forgedAdmin = { authorization: basicAuth('admin', 'a-guess') };

/**
 * The site's web service, as in authorization-2.py's Node.js sample: it grants `admin`, and
 * misbehaves on demand (the `token` header says how).
 */
interface Question {
  method: string;
  uri: string;
  headers: Record<string, string>;
  ip: string;
  username: string | null;
}
async function startService(): Promise<{ url: string; questions: Question[]; server: Server }> {
  const questions: Question[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const question = JSON.parse(body) as Question;
      questions.push(question);
      const token = question.headers.token;
      const answer = (status: number, text: string) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(text);
      };
      if (token === 'slow') return void setTimeout(() => answer(200, '{"granted": true}'), 3_000).unref();
      if (token === 'error') return answer(500, '{"granted": true}');
      if (token === 'malformed') return answer(200, '{"granted": "yes"}');
      if (token === 'not-json') return answer(200, 'granted');
      answer(200, JSON.stringify({ granted: question.username === 'admin' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/authorize`, questions, server };
}

describe('authorization: rules', () => {
  const rules = compileRules([
    { Methods: ['DELETE'], Path: '/**', Users: ['admin'] },
    { Methods: [], Path: '/jobs{,/**}', Users: ['admin'] },
    { Methods: ['GET'], Path: '/studies/*', Users: ['viewer'] },
  ]);
  it("lets the first covering rule decide, with minimatch's path semantics", () => {
    const decide = (method: string, uri: string, username?: string) => decideByRules(rules, uri, { method, username });
    assert.equal(decide('DELETE', '/studies/x', 'admin'), true);
    assert.equal(decide('DELETE', '/studies/x', 'viewer'), false, 'the first rule covers it, though the third would allow');
    assert.equal(decide('GET', '/jobs', 'viewer'), false);
    assert.equal(decide('GET', '/jobs/abc/cancel', 'admin'), true);
    assert.equal(decide('GET', '/studies/x', 'viewer'), true);
    assert.equal(decide('GET', '/studies/x', undefined), false, 'no user Orthanc accepted: refused');
    assert.equal(decide('GET', '/studies/x/archive', 'viewer'), undefined, '`*` stays within one segment');
    assert.equal(decide('GET', '/Studies/x', 'viewer'), undefined, 'case-sensitive, as Orthanc');
  });
});

describe('authorization: against a web service and a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let service: Awaited<ReturnType<typeof startService>>;
  const hosts: { host: Host; directory: string }[] = [];
  let url: string;
  let rulesOnlyUrl: string;

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: { AuthenticationEnabled: true, RegisteredUsers: { admin: 'admin-pw', viewer: 'viewer-pw' } },
      credentials: { username: 'admin', password: 'admin-pw' },
    });
    service = await startService();
    const start = async (authorization: Record<string, unknown>) => {
      const started = await startHostInProcess({
        Orthanc: { Url: orthanc.url, Username: 'admin', Password: 'admin-pw' },
        Recipes: { hello: { Enabled: true, LogChanges: false }, authorization: { Enabled: true, ...authorization } },
      });
      hosts.push(started);
      return started.url;
    };
    url = await start({
      Rules: [{ Path: '/toto', Users: ['viewer'] }],
      WebService: { Url: service.url, TimeoutMilliseconds: 500, ForwardedHeaders: ['authorization', 'token'] },
      CacheSeconds: 60,
    });
    rulesOnlyUrl = await start({
      Rules: [
        { Path: '/jobs{,/**}', Users: ['admin'] },
        { Methods: ['GET'], Path: '/**', Users: ['*'] },
      ],
    });
  });

  after(async () => {
    for (const { host, directory } of hosts) {
      await host.close();
      await rm(directory, { recursive: true, force: true });
    }
    service?.server.close();
    await orthanc?.stop();
  });

  const get = (base: string, path: string, headers: Record<string, string>) => rawRequest(`${base}${path}`, { headers });

  it('asks the service what no rule covers, and lets in on {"granted": true}', async () => {
    const answer = await get(url, '/system', { ...admin, 'x-not-forwarded': 'secret', token: 'good' });
    assert.equal(answer.status, 200);
    const question = service.questions.at(-1)!;
    assert.deepEqual(
      { ...question, ip: undefined },
      { method: 'GET', uri: '/system', headers: { ...admin, token: 'good' }, ip: undefined, username: 'admin' },
    );
    assert.match(question.ip, /127\.0\.0\.1/);
  });

  it('refuses with a JSON 403 on {"granted": false}, proxied requests and recipe routes alike', async () => {
    for (const path of ['/system', '/tata']) {
      const answer = await get(url, path, viewer);
      assert.equal(answer.status, 403, path);
      assert.equal(JSON.parse(answer.body.toString()).HttpStatus, 403);
    }
  });

  it('keeps the answers CacheSeconds, and asks once for identical questions', async () => {
    const before = service.questions.length;
    await Promise.all([1, 2, 3].map(() => get(url, '/statistics', admin)));
    assert.equal(service.questions.length, before + 1, 'three requests at once, one question');
    assert.equal((await get(url, '/statistics', admin)).status, 200);
    assert.equal((await get(url, '/system', viewer)).status, 403, 'a refusal is kept too');
    assert.equal(service.questions.length, before + 1);
  });

  it('lets a rule decide without asking the service', async () => {
    const before = service.questions.length;
    assert.equal((await get(url, '/toto', viewer)).status, 200);
    assert.equal((await get(url, '/toto', admin)).status, 403);
    assert.equal((await get(url, '/toto', {})).status, 401, "no credentials: Orthanc's challenge first");
    assert.equal(
      (await get(url, '/toto', { authorization: basicAuth('viewer', 'a-guess') })).status,
      401,
      'a forged user never reaches a rule',
    );
    assert.equal(service.questions.length, before);
  });

  it('refuses on a timeout, a 5xx or a malformed answer, and keeps none of them', async () => {
    for (const token of ['slow', 'error', 'malformed', 'not-json']) {
      const before = service.questions.length;
      const started = Date.now();
      assert.equal((await get(url, '/system', { ...admin, token })).status, 403, token);
      if (token === 'slow') assert.ok(Date.now() - started < 2_500, 'refused at the timeout, not after the answer');
      assert.equal((await get(url, '/system', { ...admin, token })).status, 403, `${token}, again`);
      assert.equal(service.questions.length, before + 2, `${token}: asked again, nothing kept`);
    }
  });

  it('refuses when the service is down', async () => {
    await new Promise<void>((resolve) => {
      service.server.close(() => resolve());
      service.server.closeAllConnections();
    });
    assert.equal((await get(url, '/system', { ...admin, token: 'down' })).status, 403);
    assert.equal((await get(url, '/statistics', admin)).status, 200, 'an answer kept before still holds');
  });

  it('with rules only: refuses what no rule covers, and users a rule does not name', async () => {
    assert.equal((await get(rulesOnlyUrl, '/jobs', admin)).status, 200);
    assert.equal((await get(rulesOnlyUrl, '/jobs', viewer)).status, 403);
    assert.equal((await get(rulesOnlyUrl, '/system', viewer)).status, 200, 'any user Orthanc accepted');
    assert.equal((await get(rulesOnlyUrl, '/toto', viewer)).status, 200, 'a recipe route');
    assert.equal((await get(rulesOnlyUrl, '/system', forgedAdmin)).status, 401);
    const deleted = await rawRequest(`${rulesOnlyUrl}/studies/unknown`, { method: 'DELETE', headers: admin });
    assert.equal(deleted.status, 403, 'no rule covers DELETE: refused');
  });
});

describe('authorization: in front of an Orthanc without authentication', { timeout: 60_000 }, () => {
  let orthanc: TestOrthanc;
  let started: Awaited<ReturnType<typeof startHostInProcess>>;

  before(async () => {
    orthanc = await startTestOrthanc();
    started = await startHostInProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { authorization: { Enabled: true, Rules: [{ Path: '/**', Users: ['admin'] }] } },
    });
  });

  after(async () => {
    await started?.host.close();
    if (started) await rm(started.directory, { recursive: true, force: true });
    await orthanc?.stop();
  });

  it('never takes a user name that Orthanc did not check: any password would pass there', async () => {
    const answer = await rawRequest(`${started.url}/system`, { headers: forgedAdmin });
    assert.equal((await rawRequest(`${orthanc.url}/system`, { headers: forgedAdmin })).status, 200, 'Orthanc lets any name in');
    assert.equal(answer.status, 403, 'the rule saw no user');
  });
});
