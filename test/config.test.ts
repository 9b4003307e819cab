import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bundledRecipes, validateConfig } from '../host/index.js';
import { cliPath } from './helpers/host.js';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function configFile(content: unknown): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-config-'));
  const file = join(folder, 'bad.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('configuration errors', () => {
  it('reports every error at once, each with the file, the recipe and the JSON pointer; exit code 2', async () => {
    const file = await configFile({
      HttpServer: { Port: 'eighty' },
      Recipes: { hello: { Enabled: true, LogChanges: 'yes', Colour: 'blue' }, nope: { Enabled: true } },
    });
    const { code, stderr } = await cli('validate', '--config', file);
    assert.equal(code, 2);
    assert.match(stderr, new RegExp(`${file}: host: /HttpServer/Port: must be integer \\(found "eighty"\\)`));
    // Host errors do not hide the recipes' errors.
    assert.match(stderr, new RegExp(`${file}: recipe "hello": /Recipes/hello/LogChanges: must be boolean`));
    const recipesOnly = await configFile({
      Recipes: { hello: { Enabled: true, LogChanges: 'yes', Colour: 'blue' }, nope: { Enabled: true } },
    });
    const second = await cli('validate', '--config', recipesOnly);
    assert.equal(second.code, 2);
    const lines = second.stderr.trim().split('\n');
    assert.deepEqual(
      lines.sort(),
      [
        `${recipesOnly}: recipe "hello": /Recipes/hello/Colour: unknown key "Colour"; expected one of "LogChanges"`,
        `${recipesOnly}: recipe "hello": /Recipes/hello/LogChanges: must be boolean (found "yes")`,
        `${recipesOnly}: recipe "nope": /Recipes/nope: unknown recipe "nope"; known recipes: ${Object.keys(bundledRecipes)
          .map((id) => `"${id}"`)
          .join(', ')} (or give its "Module")`,
      ].sort(),
    );
  });

  it('names an unknown host key, a bad Enabled and an invalid JSON file', async () => {
    const unknownKey = await configFile({ Orthanc: { Url: 'http://127.0.0.1:1', Colour: 1 }, Extra: true });
    const first = await cli('validate', '--config', unknownKey);
    assert.equal(first.code, 2);
    assert.match(first.stderr, /host: \/Orthanc\/Colour: unknown key "Colour"; expected one of "Url", "Username"/);
    assert.match(first.stderr, /host: \/Extra: unknown key "Extra"/);

    const badEnabled = await configFile({ Recipes: { hello: { Enabled: 'yes' } } });
    assert.match((await cli('validate', '--config', badEnabled)).stderr, /recipe "hello": \/Recipes\/hello\/Enabled: must be boolean/);

    const notJson = await configFile('{ "Recipes": ');
    const third = await cli('validate', '--config', notJson);
    assert.equal(third.code, 2);
    assert.match(third.stderr, new RegExp(`${notJson}: host: /: not valid JSON`));

    const missing = await cli('validate', '--config', '/no/such/file.json');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /\/no\/such\/file.json: host: \/: cannot read the file/);
  });

  it('says to build when a recipe has a folder in recipes/ but is not in the built registry', async () => {
    const { hello: _built, ...registryWithoutHello } = bundledRecipes;
    await assert.rejects(
      validateConfig({ Recipes: { hello: { Enabled: true } } }, 'x.json', registryWithoutHello),
      /recipe "hello": \/Recipes\/hello: recipe "hello" has a folder in recipes\/ but is not built: run `npm run build`/,
    );
  });

  it('does not validate, nor load, a recipe that is disabled', async () => {
    const file = await configFile({ Recipes: { hello: { Enabled: false, Anything: 1 } } });
    const { code, stdout } = await cli('validate', '--config', file);
    assert.equal(code, 0);
    assert.match(stdout, /valid; enabled recipes: none/);
  });

  it('refuses to run with a bad configuration (exit 2, nothing started)', async () => {
    const file = await configFile({ Recipes: { hello: { Enabled: true, Nope: 1 } } });
    const { code, stderr, stdout } = await cli('run', '--config', file);
    assert.equal(code, 2);
    assert.match(stderr, /\/Recipes\/hello\/Nope/);
    assert.doesNotMatch(stdout, /listening/);
  });

  it('fills defaults in', async () => {
    const loaded = await validateConfig({ Recipes: { hello: { Enabled: true } } }, '/etc/orthanc-recipes/config.json');
    assert.equal(loaded.config.HttpServer.Host, '127.0.0.1');
    assert.equal(loaded.config.HttpServer.Port, 8043);
    assert.equal(loaded.config.ChangeFeed.PollIntervalMilliseconds, 200);
    assert.equal(loaded.stateDirectory, '/etc/orthanc-recipes/state');
    assert.deepEqual(
      loaded.recipes.map((r) => [r.id, r.options]),
      [['hello', { LogChanges: true }]],
    );
  });
});

describe('the CLI', () => {
  it('prints its help, version and recipes', async () => {
    const help = await cli('--help');
    assert.equal(help.code, 0);
    for (const command of ['run', 'list', 'validate', 'introspect']) assert.match(help.stdout, new RegExp(`^  ${command}`, 'm'));
    const version = await cli('--version');
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
    const list = await cli('list');
    assert.match(list.stdout, /^hello\s+Hello: /m);
  });

  it('rejects unknown commands and options with exit code 2', async () => {
    assert.equal((await cli('frobnicate')).code, 2);
    assert.equal((await cli('run', '--frobnicate')).code, 2);
    // validate reads ./orthanc-recipes.json by default, like run.
    assert.equal((await cli('validate', '--config', '/nonexistent/orthanc-recipes.json')).code, 2);
  });
});
