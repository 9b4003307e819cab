import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../shared/binding/index.js';
import { Host, bundledRecipes, findExecutable, getFreePort, validateConfig } from '../host/index.js';
import { defineRecipe } from '../shared/recipe.js';
import { eventually } from './helpers/changes.js';
import { LineLog, cliPath } from './helpers/host.js';

/** Process ids whose command line mentions `text` (the embedded Orthanc names its configuration file). */
async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.includes(text) && !commandLine.includes(cliPath)) found.push(Number(entry));
  }
  return found;
}

/** Runs the CLI on a configuration with an embedded Orthanc; its log lines as they come. */
async function runCli(folder: string) {
  const child = spawn(process.execPath, [cliPath, 'run', '--config', join(folder, 'orthanc-recipes.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = new LineLog();
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) log.push(line);
    });
  }
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, log, exited };
}

describe('SIGTERM during the start leaves nothing behind (defect 8)', { timeout: 240_000 }, () => {
  it('stops the embedded Orthanc when SIGTERM comes while it starts, and the next start works', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-abort-'));
    const configure = (orthanc: Record<string, unknown>) =>
      writeFile(
        join(folder, 'orthanc-recipes.json'),
        JSON.stringify({ StateDirectory: './state', HttpServer: { Port: 0 }, Orthanc: orthanc, Recipes: { hello: { Enabled: true } } }),
      );
    // An Orthanc that takes its time to start: the SIGTERM surely comes before it answers, on a busy machine too.
    const slowOrthanc = join(folder, 'slow-orthanc');
    await writeFile(slowOrthanc, `#!/bin/sh\nsleep 10 </dev/null >/dev/null 2>&1\nexec ${findExecutable('Orthanc')} "$@"\n`, {
      mode: 0o755,
    });
    await configure({ Executable: slowOrthanc });
    const storage = join(folder, 'state', 'orthanc');
    const first = await runCli(folder);
    // As soon as the Orthanc child exists: the host is still waiting for it to answer.
    await eventually(async () => (await processesMentioning(storage)).length > 0, 30_000, 'the embedded Orthanc spawned');
    first.child.kill('SIGTERM');
    const [code] = await first.exited;
    assert.equal(code, 0, first.log.lines.join('\n'));
    assert.deepEqual(await processesMentioning(storage), [], 'no Orthanc left running');
    assert.ok(!first.log.lines.some((line) => /listening on/.test(line)), 'it never listened');

    // Once more, SIGTERM right after the embedded Orthanc answers (the feed and the recipes are next).
    await configure({});
    const second = await runCli(folder);
    await second.log.waitFor(/embedded Orthanc started at/, 60_000);
    second.child.kill('SIGTERM');
    assert.equal((await second.exited)[0], 0, second.log.lines.join('\n'));
    assert.deepEqual(await processesMentioning(storage), [], 'no Orthanc left running');

    // The storage is not locked: a full start and stop.
    const third = await runCli(folder);
    await third.log.waitFor(/listening on http/, 60_000);
    third.child.kill('SIGTERM');
    assert.equal((await third.exited)[0], 0, third.log.lines.join('\n'));
    assert.deepEqual(await processesMentioning(storage), []);
  });

  it("aborts while waiting for an unreachable Orthanc, and during a recipe's setup, stopping the embedded Orthanc", async () => {
    const start = async (config: Record<string, unknown>, extra: ReturnType<typeof defineRecipe>[], controller: AbortController) => {
      const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-abort-'));
      const registry = { ...bundledRecipes, ...Object.fromEntries(extra.map((r) => [r.meta.id, async () => r])) };
      const loaded = await validateConfig(
        { StateDirectory: join(folder, 'state'), HttpServer: { Port: 0 }, ...config },
        join(folder, 'orthanc-recipes.json'),
        registry,
      );
      const log = new LineLog();
      const logger = createLogger('host', { level: 'debug', write: (line) => log.push(line.trimEnd()) });
      return { log, folder, started: Host.start(loaded, { log: logger, signal: controller.signal }) };
    };

    const unreachable = new AbortController();
    const waiting = await start({ Orthanc: { Url: `http://127.0.0.1:${await getFreePort()}` } }, [], unreachable);
    await waiting.log.waitFor(/waiting for Orthanc at .* to read the change feed/);
    unreachable.abort(new Error('SIGTERM'));
    await assert.rejects(waiting.started, /SIGTERM/);

    let setupBegan: () => void = () => undefined;
    const began = new Promise<void>((resolve) => (setupBegan = resolve));
    const slow = defineRecipe({
      meta: { id: 'slow-setup', title: 'Slow setup', description: 'Takes its time.', routes: [], events: [], destructive: false },
      schema: { type: 'object', properties: {}, additionalProperties: false },
      async setup() {
        setupBegan();
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      },
    });
    const inSetup = new AbortController();
    const setting = await start(
      { RecipeSetupTimeoutSeconds: 30, Recipes: { hello: { Enabled: true }, 'slow-setup': { Enabled: true } } },
      [slow],
      inSetup,
    );
    await began;
    const line = await setting.log.waitFor(/embedded Orthanc started at (http:\S+)/);
    const orthancUrl = /started at (http:\S+)/.exec(line)![1]!;
    inSetup.abort(new Error('SIGTERM'));
    await assert.rejects(setting.started, /SIGTERM/);
    await assert.rejects(fetch(`${orthancUrl}/system`), 'the embedded Orthanc is stopped');
    assert.deepEqual(await processesMentioning(join(setting.folder, 'state', 'orthanc')), []);
  });
});
