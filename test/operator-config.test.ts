import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig, bundledRecipes } from '../host/index.js';
import { getFreePort } from '../host/orthanc-process.js';
import { cliPath, startHostProcess } from './helpers/host.js';
import { basicAuth } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

const credentials = { username: 'admin', password: 'pa ss"word' };

async function folderWith(files: Record<string, string | object>): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-operator-'));
  for (const [name, content] of Object.entries(files))
    await writeFile(join(folder, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return folder;
}

function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [cliPath, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** The issues of a configuration that does not load, formatted. */
async function issuesOf(load: Promise<unknown>): Promise<string[]> {
  try {
    await load;
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  return [];
}

describe('configuration for operators', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: {
        AuthenticationEnabled: true,
        RegisteredUsers: { [credentials.username]: credentials.password },
        DicomModalities: { known: ['KNOWN', '127.0.0.1', 104] },
      },
      credentials,
    });
  });

  after(async () => {
    await orthanc?.stop();
  });

  it('environment variables override the file, typed by the schema, and their errors name them', async () => {
    const folder = await folderWith({ 'c.json': { HttpServer: { Port: 8043 }, Recipes: { hello: { Enabled: true } } } });
    const file = join(folder, 'c.json');
    const loaded = await loadConfig(file, bundledRecipes, {
      ORTHANC_RECIPES__Orthanc__Password: '1234',
      ORTHANC_RECIPES__HttpServer__Port: '8044',
      ORTHANC_RECIPES__httpserver__host: '0.0.0.0',
      ORTHANC_RECIPES__Orthanc__Configuration: '{"StableAge": 5}',
      ORTHANC_RECIPES__Recipes__hello__Enabled: 'false',
      ORTHANC_RECIPES__Recipes__scheduler__Enabled: 'true',
      ORTHANC_RECIPES__Recipes__scheduler__Tasks: '[{"Name": "t", "Every": "1h", "Task": "log-statistics"}]',
      UNRELATED__X: '1',
    });
    assert.equal(loaded.config.Orthanc.Password, '1234');
    assert.equal(loaded.config.HttpServer.Port, 8044);
    assert.equal(loaded.config.HttpServer.Host, '0.0.0.0');
    assert.deepEqual(loaded.config.Orthanc.Configuration, { StableAge: 5 });
    assert.deepEqual(
      loaded.recipes.map((r) => r.id),
      ['scheduler'],
    );

    assert.deepEqual(
      (
        await issuesOf(
          loadConfig(file, bundledRecipes, {
            ORTHANC_RECIPES__HttpServer__Port: '70000',
            ORTHANC_RECIPES__Recipes__hello__LogChanges: '"yes"',
            ORTHANC_RECIPES__Orthanc__Nope: '1',
          }),
        )
      ).sort(),
      [
        `${file}: host: /HttpServer/Port (from environment variable ORTHANC_RECIPES__HttpServer__Port): must be <= 65535 (found 70000)`,
        `${file}: host: /Orthanc/Nope (from environment variable ORTHANC_RECIPES__Orthanc__Nope): unknown key "Nope"; expected one of "Url", "Username", "Password", "PasswordFile", "TimeoutSeconds", "Executable", "Configuration"`,
        `${file}: recipe "hello": /Recipes/hello/LogChanges (from environment variable ORTHANC_RECIPES__Recipes__hello__LogChanges): must be boolean (found "yes")`,
      ].sort(),
    );
    assert.deepEqual(await issuesOf(loadConfig(file, bundledRecipes, { ORTHANC_RECIPES__HttpServer__Port: 'eighty' })), [
      `${file}: host: /HttpServer/Port (from environment variable ORTHANC_RECIPES__HttpServer__Port): is not JSON: "eighty" (strings are for keys that hold text)`,
    ]);
    // A value from the file is named as such: no source.
    assert.deepEqual(
      await issuesOf(
        loadConfig(file, bundledRecipes, {
          ORTHANC_RECIPES__Recipes__hello__Colour: '"blue"',
          ORTHANC_RECIPES__Recipes__hello__Enabled: 'true',
        }),
      ),
      [
        `${file}: recipe "hello": /Recipes/hello/Colour (from environment variable ORTHANC_RECIPES__Recipes__hello__Colour): unknown key "Colour"; expected one of "LogChanges"`,
      ],
    );
  });

  it('Orthanc.PasswordFile: a Docker or systemd secret, given by the environment, against a real Orthanc', async () => {
    const folder = await folderWith({ password: `${credentials.password}\n` });
    const host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: {} }, folder, {
      ORTHANC_RECIPES__Orthanc__Username: credentials.username,
      ORTHANC_RECIPES__Orthanc__PasswordFile: 'password',
      ORTHANC_RECIPES__Recipes__hello__Enabled: 'true',
    });
    try {
      const about: any = await (
        await fetch(`${host.url}/recipes`, { headers: { authorization: basicAuth(credentials.username, credentials.password) } })
      ).json();
      assert.equal(about.Orthanc.Answers, true);
      assert.deepEqual(
        about.Recipes.map((r: { Id: string; Status: string }) => [r.Id, r.Status]),
        [['hello', 'running']],
      );
    } finally {
      await host.stop();
    }
    const both = await folderWith({ 'c.json': { Orthanc: { Url: orthanc.url, Password: 'x', PasswordFile: 'password' } } });
    assert.deepEqual(await issuesOf(loadConfig(join(both, 'c.json'), bundledRecipes, {})), [
      `${join(both, 'c.json')}: host: /Orthanc/PasswordFile: cannot be given with "Password": keep one of them`,
    ]);
    const missing = await folderWith({ 'c.json': { Orthanc: { Url: orthanc.url, PasswordFile: 'absent' } } });
    assert.match(
      (await issuesOf(loadConfig(join(missing, 'c.json'), bundledRecipes, {})))[0]!,
      /\/Orthanc\/PasswordFile: cannot read the password: ENOENT/,
    );
  });

  it('validate: ./orthanc-recipes.json by default, host and recipe errors together, the wrong value shown, line and column of a syntax error', async () => {
    const folder = await folderWith({
      'orthanc-recipes.json': {
        HttpServer: { Port: 'eighty' },
        LogLevel: 'loud',
        Recipes: { hello: { Enabled: true, LogChanges: 'yes' } },
      },
      'syntax.json': '{\n  "HttpServer": {\n    "Port": 80,\n  }\n}\n',
    });
    const { code, stderr } = await cli(['validate'], { cwd: folder });
    assert.equal(code, 2);
    assert.deepEqual(stderr.trim().split('\n').sort(), [
      'orthanc-recipes.json: host: /HttpServer/Port: must be integer (found "eighty")',
      'orthanc-recipes.json: host: /LogLevel: must be one of "error", "warning", "info", "debug" (found "loud")',
      'orthanc-recipes.json: recipe "hello": /Recipes/hello/LogChanges: must be boolean (found "yes")',
    ]);
    const syntax = await cli(['validate', '--config', 'syntax.json'], { cwd: folder });
    assert.equal(syntax.code, 2);
    assert.match(syntax.stderr, /^syntax\.json: host: \/: not valid JSON at line 4, column 3: /);
  });

  it('validate --online checks the credentials and the destinations against Orthanc', async () => {
    const routing = (destination: string) => ({ Enabled: true, Rules: [{ Name: 'r', Destinations: [destination, { Peer: 'nowhere' }] }] });
    const folder = await folderWith({
      'good.json': {
        Orthanc: { Url: orthanc.url, Username: credentials.username, Password: credentials.password },
        Recipes: { autorouting: { Enabled: true, Rules: [{ Destinations: ['known'] }] } },
      },
      'wrong-password.json': { Orthanc: { Url: orthanc.url, Username: credentials.username, Password: 'wrong' }, Recipes: {} },
      'destinations.json': {
        Orthanc: { Url: orthanc.url, Username: credentials.username, Password: credentials.password },
        Recipes: { autorouting: routing('unknown') },
      },
    });
    const good = await cli(['validate', '--online', '--config', 'good.json'], { cwd: folder });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /accepts the host's credentials; checked against it: autorouting/);
    // Offline, the same destinations pass: only Orthanc knows them.
    assert.equal((await cli(['validate', '--config', 'destinations.json'], { cwd: folder })).code, 0);
    const wrong = await cli(['validate', '--online', '--config', 'wrong-password.json'], { cwd: folder });
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stderr.trim(), "wrong-password.json: host: /Orthanc/Password: Orthanc refuses the host's credentials (HTTP 401)");
    assert.doesNotMatch(wrong.stderr + wrong.stdout, /wrong"/);
    const destinations = await cli(['validate', '--online', '--config', 'destinations.json'], { cwd: folder });
    assert.equal(destinations.code, 2);
    const lines = destinations.stderr.trim().split('\n');
    assert.equal(lines.length, 2, destinations.stderr);
    assert.match(lines[0]!, /^destinations\.json: recipe "autorouting": \/Recipes\/autorouting\/Rules\/0\/Destinations\/0: .*unknown/);
    assert.match(lines[1]!, /^destinations\.json: recipe "autorouting": \/Recipes\/autorouting\/Rules\/0\/Destinations\/1: .*nowhere/);
  });

  it('list and validate end quietly when the reader closes the pipe (no EPIPE crash)', async () => {
    const folder = await folderWith({ 'orthanc-recipes.json': { Recipes: { hello: { Enabled: true } } } });
    for (const args of [['list'], ['validate']]) {
      const child = spawn(process.execPath, [cliPath, ...args], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] });
      // The reader goes away before the CLI writes anything, as `head` does after its lines.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = await once(child, 'exit');
      assert.deepEqual([code, stderr], [0, ''], args.join(' '));
    }
  });

  it('the embedded Orthanc honours HttpPort and DicomPort, and the start log names them and the dashboard', async () => {
    const [httpPort, dicomPort] = [await getFreePort(), await getFreePort()];
    const folder = await folderWith({});
    const host = await startHostProcess(
      {
        Orthanc: { Configuration: { HttpPort: httpPort, DicomPort: dicomPort, DicomAet: 'EMBEDDED' } },
        Recipes: { dashboard: { Enabled: true } },
      },
      folder,
    );
    try {
      await host.log.waitFor(
        new RegExp(`embedded Orthanc: DICOM port ${dicomPort}, AET EMBEDDED, HTTP http://127\\.0\\.0\\.1:${httpPort}`),
      );
      await host.log.waitFor(new RegExp(`dashboard: ${host.url.replace(/\./g, '\\.')}/recipes/ui/`));
      assert.equal((await fetch(`http://127.0.0.1:${httpPort}/system`)).status, 200);
    } finally {
      await host.stop();
    }
  });
});
