import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ChangeType } from '../shared/binding/index.js';
import type { Host } from '../host/index.js';
import { defineRecipe } from '../shared/recipe.js';
import { startHostInProcess, type LineLog } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

const events: string[] = [];
const schema = { type: 'object', properties: {}, additionalProperties: false };
const meta = (id: string) => ({ id, title: id, description: 'A lifecycle probe.', routes: [], events: [], destructive: false });

const hangs = defineRecipe({
  meta: meta('hangs'),
  schema,
  setup({ orthanc }) {
    orthanc.registerRestCallback('/hangs', (output) => output.answerBuffer('hangs', 'text/plain'));
    return new Promise<never>(() => undefined);
  },
});
const throws = defineRecipe({
  meta: meta('throws'),
  schema,
  setup({ orthanc }) {
    orthanc.registerRestCallback('/throws', (output) => output.answerBuffer('throws', 'text/plain'));
    throw new Error('cannot start on purpose');
  },
});
const recorder = (id: string) =>
  defineRecipe({
    meta: meta(id),
    schema,
    setup({ orthanc, signal }) {
      orthanc.registerOnChangeCallback((type) => void (type === ChangeType.ORTHANC_STOPPED && events.push(`${id} saw ORTHANC_STOPPED`)));
      orthanc.registerRestCallback(`/${id}/slow`, async (output) => {
        await sleep(800);
        output.answerBuffer(`${id} done`, 'text/plain');
      });
      return { close: () => void events.push(`${id} closed${signal.aborted ? ' (signal aborted)' : ''}`) };
    },
  });

describe("the host's lifecycle, against a real Orthanc", { timeout: 60_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;
  let log: LineLog;

  before(async () => {
    orthanc = await startTestOrthanc();
    ({ host, url, log } = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url },
        RecipeSetupTimeoutSeconds: 0.5,
        Recipes: {
          first: { Enabled: true },
          hangs: { Enabled: true },
          throws: { Enabled: true },
          hello: { Enabled: true },
          second: { Enabled: true },
        },
      },
      [recorder('first'), hangs, throws, recorder('second')],
    ));
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  it('disables a recipe whose setup times out or throws, removes what it registered, and runs the others', async () => {
    const about = JSON.parse((await rawRequest(`${url}/recipes`)).body.toString());
    const status = Object.fromEntries(about.Recipes.map((r: { Id: string; Status: string }) => [r.Id, r.Status]));
    assert.deepEqual(status, { first: 'running', hello: 'running', second: 'running', hangs: 'failed', throws: 'failed' });
    assert.match(about.Recipes.find((r: { Id: string }) => r.Id === 'hangs').Error, /did not finish within 0.5 s/);
    assert.match(about.Recipes.find((r: { Id: string }) => r.Id === 'throws').Error, /cannot start on purpose/);
    await log.waitFor(/throws\] setup failed, the recipe is disabled: cannot start on purpose/);
    // Their routes are gone: the requests go to Orthanc, which knows no such route.
    assert.equal((await rawRequest(`${url}/hangs`)).status, 404);
    assert.equal((await rawRequest(`${url}/throws`)).status, 404);
    assert.equal((await rawRequest(`${url}/toto`)).body.toString(), 'ok\n');
  });

  it('stops in order: finishes requests in flight, delivers ORTHANC_STOPPED, closes recipes in reverse order', async () => {
    const inFlight = rawRequest(`${url}/first/slow`);
    await sleep(100);
    const closing = host.close();
    const answer = await inFlight;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.toString(), 'first done');
    await closing;
    // Each recipe has its own queue, so the two ORTHANC_STOPPED may come in either order, but both
    // before any recipe closes; then the recipes close in reverse order of setup.
    assert.equal(events.length, 4, events.join(', '));
    assert.deepEqual(events.slice(0, 2).sort(), ['first saw ORTHANC_STOPPED', 'second saw ORTHANC_STOPPED']);
    assert.deepEqual(events.slice(2), ['second closed (signal aborted)', 'first closed (signal aborted)']);
    await assert.rejects(rawRequest(`${url}/toto`), 'the front no longer accepts connections');
  });
});
