import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bundledRecipes, effectiveConfig, maskSecrets, validateConfig } from '../host/index.js';
import { defineRecipe } from '../shared/recipe.js';
import { cliPath } from './helpers/host.js';

function validate(config: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    mkdtemp(join(tmpdir(), 'orthanc-recipes-validate-'))
      .then(async (folder) => {
        const file = join(folder, 'orthanc-recipes.json');
        await writeFile(file, JSON.stringify(config));
        execFile(process.execPath, [cliPath, 'validate', '--config', file], (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      })
      .catch(reject);
  });
}

/** A recipe with secrets among its options, to see them masked and its defaults filled in. */
const forwarder = defineRecipe({
  meta: { id: 'forwarder', title: 'Forwarder', description: 'A probe with secrets.', routes: [], events: [], destructive: false },
  schema: {
    type: 'object',
    properties: {
      Destination: { type: 'string', default: 'https://pacs.example/dicom-web', description: 'Where to send.' },
      DestinationPassword: { type: 'string', default: '', description: 'Basic password.' },
      ApiToken: { type: 'string', description: 'A bearer token.' },
      client_secret: { type: 'string', description: 'An OAuth secret.' },
      Retries: { type: 'integer', default: 3, description: 'Attempts.' },
    },
    additionalProperties: false,
  },
  setup() {},
});

describe('orthanc-recipes validate: what would run', () => {
  it('prints the enabled recipes with their effective options, defaults filled in and the password masked', async () => {
    const { code, stdout, stderr } = await validate({
      Orthanc: { Url: 'http://127.0.0.1:8042', Username: 'alice', Password: 'HostPassw0rd' },
      LogFormat: 'json',
      Recipes: { hello: { Enabled: true } },
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /valid; enabled recipes: hello\n/);
    assert.ok(!stdout.includes('HostPassw0rd'), 'the host password is masked');
    const printed = JSON.parse(stdout.slice(stdout.indexOf('{'))) as Record<string, any>;
    assert.deepEqual(printed.Recipes, { hello: { Enabled: true, LogChanges: true } }, 'hello with its default filled in');
    assert.deepEqual(printed.Orthanc, {
      Url: 'http://127.0.0.1:8042',
      Username: 'alice',
      Password: '********',
      TimeoutSeconds: 60,
      Executable: 'Orthanc',
      Configuration: {},
    });
    assert.deepEqual(printed.HttpServer, {
      Host: '127.0.0.1',
      Port: 8043,
      MaxRecipeBodyMegabytes: 64,
      RequestHeadTimeoutSeconds: 30,
      KeepAliveTimeoutSeconds: 5,
      BodyInactivityTimeoutSeconds: 60,
      MaxConnections: 1000,
      AllowedOrigins: [],
      TrustedProxies: [],
      ForwardedAuthHeaders: [],
      HostActionProbe: { Method: 'GET', Uri: '/jobs', CacheSeconds: 10 },
      AllowRemoteAccessWithoutAuthentication: false,
    });
    assert.equal(printed.LogFormat, 'json');
    assert.equal(printed.LogLevel, 'info');
  });

  it('leaves disabled recipes out', async () => {
    const { code, stdout } = await validate({ Recipes: { hello: { Enabled: false } } });
    assert.equal(code, 0);
    assert.match(stdout, /valid; enabled recipes: none\n/);
    assert.deepEqual(JSON.parse(stdout.slice(stdout.indexOf('{'))).Recipes, {});
  });

  it("masks every option that names a password, secret or token, and an embedded Orthanc's users and peers", async () => {
    const loaded = await validateConfig(
      {
        Orthanc: {
          Configuration: {
            RegisteredUsers: { alice: 'UserPassword1' },
            OrthancPeers: {
              remote: ['http://peer.example:8042/', 'bob', 'PeerPassword2'],
              other: { Url: 'http://carol:UrlPassword3@peer.example/', Password: 'PeerPassword4' },
            },
          },
        },
        Recipes: { forwarder: { Enabled: true, ApiToken: 'Token5', client_secret: 'Secret6' } },
      },
      'orthanc-recipes.json',
      { ...bundledRecipes, forwarder: async () => forwarder },
    );
    const shown = effectiveConfig(loaded);
    const text = JSON.stringify(shown);
    for (const secret of ['UserPassword1', 'PeerPassword2', 'UrlPassword3', 'PeerPassword4', 'Token5', 'Secret6']) {
      assert.ok(!text.includes(secret), `"${secret}" is shown`);
    }
    assert.deepEqual((shown.Recipes as Record<string, unknown>).forwarder, {
      Enabled: true,
      ApiToken: '********',
      client_secret: '********',
      Destination: 'https://pacs.example/dicom-web',
      DestinationPassword: '', // an empty default is no secret, and shows that none is set
      Retries: 3,
    });
    const configuration = (shown.Orthanc as { Configuration: Record<string, any> }).Configuration;
    assert.deepEqual(configuration.OrthancPeers.remote, ['http://peer.example:8042/', 'bob', '********']);
    assert.equal(configuration.OrthancPeers.other.Url, 'http://carol:********@peer.example/');
    assert.deepEqual(configuration.RegisteredUsers, { alice: '********' });
    // The configuration itself is left as it is: the host runs with the real values.
    assert.equal((loaded.recipes[0]!.options as { ApiToken: string }).ApiToken, 'Token5');
  });

  it('masks nothing else', () => {
    const value = {
      Url: 'http://127.0.0.1:8042',
      Username: 'alice',
      Port: 8043,
      Enabled: true,
      List: ['a', 1, null],
      Nested: { TokenLifetimeSeconds: undefined },
    };
    assert.deepEqual(maskSecrets(value), value);
  });
});
