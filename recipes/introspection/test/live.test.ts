import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { defineRecipe } from '../../../shared/recipe.js';
import { cliPath, startHostInProcess } from '../../../test/helpers/host.js';
import { basicAuth, rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import type { Introspection } from '../describe.js';
import schema from '../schema.json' with { type: 'json' };

const run = promisify(execFile);

// Each secret is distinct, so that a leak names its source.
const orthancPassword = 'Orthanc-Pw-93a1';
const peerPassword = 'Peer-Pw-5c2e';
const recipeSecrets = ['Archive-Pw-77f0', 'Client-Secret-0b9d', 'Api-Token-e41c', 'Url-Pw-31aa', 'Private-Note-c0de'];
const secrets = [orthancPassword, peerPassword, ...recipeSecrets];

/** A recipe whose options hold secrets, beside the bundled ones. */
const secretive = defineRecipe<Record<string, unknown>>({
  meta: {
    id: 'secretive',
    title: 'Secretive',
    description: 'Holds secrets in its options.',
    routes: [],
    events: ['STABLE_STUDY'],
    destructive: false,
  },
  schema: {
    type: 'object',
    properties: {
      ArchivePassword: { type: 'string', default: '' },
      Nested: { type: 'object', properties: { ClientSecret: { type: 'string' }, ApiToken: { type: 'string' } } },
      Target: { type: 'string', default: '' },
      SameAsOrthanc: { type: 'string', default: '' },
      PrivateNote: { type: 'string', default: '' },
      Threshold: { type: 'number', default: 3 },
    },
    additionalProperties: false,
  },
  setup() {},
});

describe('recipe introspection, against a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let started: Awaited<ReturnType<typeof startHostInProcess>>;
  const auth = { authorization: basicAuth('admin', orthancPassword) };
  const get = (query = '', headers: Record<string, string> = auth) =>
    rawRequest(`${started.url}/recipes/introspection${query}`, { headers });

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: {
        AuthenticationEnabled: true,
        RegisteredUsers: { admin: orthancPassword },
        DicomModalities: { 'pacs-a': ['PACSA', '127.0.0.1', 11112], 'ct-scanner': { AET: 'CT1', Host: '127.0.0.1', Port: 104 } },
        OrthancPeers: { 'peer-b': { Url: 'http://127.0.0.1:9/', Username: 'bob', Password: peerPassword } },
        // The same path inside Debian 12 and in the Debian 13 root.
        Plugins: ['/usr/share/orthanc/plugins/libServeFolders.so'],
      },
      credentials: { username: 'admin', password: orthancPassword },
    });
    started = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url, Username: 'admin', Password: orthancPassword },
        Recipes: {
          hello: { Enabled: true, LogChanges: false },
          introspection: { Enabled: true, MaskedKeys: ['Private'] },
          secretive: {
            Enabled: true,
            ArchivePassword: recipeSecrets[0],
            Nested: { ClientSecret: recipeSecrets[1], ApiToken: recipeSecrets[2] },
            Target: `https://archive:${recipeSecrets[3]}@archive.example/dicom-web`,
            SameAsOrthanc: orthancPassword,
            PrivateNote: recipeSecrets[4],
          },
        },
      },
      [secretive],
    );
  });

  after(async () => {
    await started?.host.close();
    await orthanc?.stop();
  });

  it("gives Orthanc's version, API version, plugins, and the names of its modalities and peers", async () => {
    const answer = await get();
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    const live = (JSON.parse(answer.body.toString()) as Introspection).Live!;
    const system = await orthanc.json('GET', '/system');
    assert.ok(live.Orthanc.Answers);
    assert.equal(live.Orthanc.Version, system.Version);
    assert.equal(live.Orthanc.ApiVersion, system.ApiVersion);
    const plugins = (await orthanc.json<string[]>('GET', '/plugins')).filter((id) => id !== 'explorer.js').sort();
    assert.deepEqual(
      live.Orthanc.Plugins.map((p) => p.ID),
      plugins,
    );
    assert.ok(
      live.Orthanc.Plugins.some((p) => p.ID === 'serve-folders' && p.Version),
      JSON.stringify(live.Orthanc.Plugins),
    );
    assert.deepEqual(live.Orthanc.Modalities, ['ct-scanner', 'pacs-a']);
    assert.deepEqual(live.Orthanc.Peers, ['peer-b']);
    assert.equal(live.Orthanc.Errors, undefined);
  });

  it('gives each enabled recipe with its routes, events, schema and options in force', async () => {
    const answer = JSON.parse((await get()).body.toString()) as Introspection;
    const recipes = answer.Live!.Recipes;
    assert.deepEqual(
      recipes.map((r) => [r.Id, r.Status]),
      [
        ['hello', 'running'],
        ['introspection', 'running'],
        ['secretive', 'running'],
      ],
    );
    const self = recipes.find((r) => r.Id === 'introspection')!;
    assert.deepEqual(self.Routes, ['GET /recipes/introspection']);
    assert.deepEqual(self.Served, ['GET /recipes/introspection'], 'the methods the host serves for it, as declared');
    assert.deepEqual(self.Schema, schema);
    assert.deepEqual(self.Options, { ShowOptions: true, MaskedKeys: ['Private'] });
    const hello = recipes.find((r) => r.Id === 'hello')!;
    assert.deepEqual(hello.Options, { LogChanges: false });
    assert.ok(hello.Events.includes('STABLE_STUDY') && hello.Routes.includes('* /tata'));
    assert.deepEqual(hello.Served, ['* /(to)(t)o', '* /tata'], 'routes that declare no methods serve every one');
    assert.deepEqual(recipes.find((r) => r.Id === 'secretive')!.Options, {
      ArchivePassword: '********',
      Nested: { ClientSecret: '********', ApiToken: '********' },
      Target: 'https://archive:********@archive.example/dicom-web',
      SameAsOrthanc: '********',
      PrivateNote: '********',
      Threshold: 3,
    });
    // The binding's part is there too, as without Orthanc.
    assert.ok(answer.Binding.Functions.some((f) => f.Name === 'registerRestCallback' && f.Python === 'RegisterRestCallback'));
  });

  it('never answers a password or secret of the configuration, in JSON or Markdown', async () => {
    for (const query of ['', '?format=json', '?format=markdown']) {
      const body = (await get(query)).body.toString();
      for (const secret of secrets) assert.ok(!body.includes(secret), `${secret} appears in ${query || 'the default answer'}`);
    }
  });

  it('answers Markdown with ?format=markdown, with the live section', async () => {
    const answer = await get('?format=markdown');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'text/markdown; charset=utf-8');
    const text = answer.body.toString();
    for (const heading of [
      '## Functions',
      '## Classes',
      '## Enumerations',
      '## Live system',
      '### Orthanc',
      '### Recipes',
      '#### secretive: Secretive',
    ]) {
      assert.ok(text.includes(`\n${heading}\n`), heading);
    }
    assert.match(text, /- Modalities: `ct-scanner`, `pacs-a`/);
  });

  it('refuses a bad format with a JSON 400, another method with 405, and no credentials with 401', async () => {
    const bad = await get('?format=xml');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body.toString()).Message, /unknown format "xml"/);
    const post = await rawRequest(`${started.url}/recipes/introspection`, { method: 'POST', headers: auth, body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
    assert.equal((await get('', {})).status, 401);
  });

  it('answers as curl sees it', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '--fail',
      '-u',
      `admin:${orthancPassword}`,
      `${started.url}/recipes/introspection?format=markdown`,
    ]);
    assert.match(stdout, /^# The `orthanc-recipes\/binding` API/);
    for (const secret of secrets) assert.ok(!stdout.includes(secret), secret);
  });

  it('the CLI with --config gives the same live Orthanc part, and no password', async () => {
    const configFile = join(started.directory, 'cli.json');
    await writeFile(
      configFile,
      JSON.stringify({
        Orthanc: { Url: orthanc.url, Username: 'admin', Password: orthancPassword },
        Recipes: { introspection: { Enabled: true } },
      }),
    );
    const { stdout } = await run(process.execPath, [cliPath, 'introspect', '--config', configFile]);
    for (const secret of secrets) assert.ok(!stdout.includes(secret), secret);
    const live = (JSON.parse(stdout) as Introspection).Live!;
    assert.ok(live.Orthanc.Answers);
    assert.deepEqual(live.Orthanc.Modalities, ['ct-scanner', 'pacs-a']);
    assert.deepEqual(live.Orthanc.Peers, ['peer-b']);
    assert.deepEqual(
      live.Recipes.map((r) => r.Id),
      ['introspection'],
    );
  });
});
