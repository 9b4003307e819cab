import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../host/index.js';
import { defineRecipe, RecipeOptionsError } from '../shared/recipe.js';
import { startHostInProcess } from './helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

const schema = {
  type: 'object',
  properties: { Size: { type: 'integer', description: 'A size.', default: 1 } },
  additionalProperties: false,
};

/** Its `check` refuses a Size of 13 at load; its `setup` refuses a Size of 7 once Orthanc is known. */
const picky = defineRecipe<{ Size: number }>({
  meta: { id: 'picky', title: 'Picky', description: 'Refuses some sizes.', routes: [], events: [], destructive: false },
  schema,
  check: (options, env) => (options.Size === 13 ? [{ pointer: '/Size', message: `13 is unlucky (config in ${env.configDirectory})` }] : []),
  setup(_ctx, options) {
    if (options.Size === 7) throw new RecipeOptionsError([{ pointer: '/Size', message: 'Orthanc has no room for 7' }]);
  },
});

let closed = 0;
let seenConfigDirectory = '';
const earlier = defineRecipe<Record<string, never>>({
  meta: { id: 'earlier', title: 'Earlier', description: 'Set up before picky.', routes: [], events: [], destructive: false },
  schema: { type: 'object', additionalProperties: false },
  setup(ctx) {
    seenConfigDirectory = ctx.configDirectory;
    return { close: () => void (closed += 1) };
  },
});

describe('recipe options checked beyond the schema', { timeout: 60_000 }, () => {
  let orthanc: TestOrthanc;
  before(async () => (orthanc = await startTestOrthanc()));
  after(async () => await orthanc?.stop());

  it('runs `check` at load with defaults filled in, and reports its issues with file, recipe and pointer', async () => {
    const registry = { picky: async () => picky };
    await assert.doesNotReject(validateConfig({ Recipes: { picky: { Enabled: true } } }, '/etc/orthanc-recipes/a.json', registry));
    const error = await validateConfig({ Recipes: { picky: { Enabled: true, Size: 13 } } }, '/etc/orthanc-recipes/a.json', registry).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError);
    assert.equal(
      error.message,
      '/etc/orthanc-recipes/a.json: recipe "picky": /Recipes/picky/Size: 13 is unlucky (config in /etc/orthanc-recipes)',
    );
  });

  it('turns a RecipeOptionsError thrown by setup into a configuration error, after closing what was set up', async () => {
    const error = await startHostInProcess(
      { Orthanc: { Url: orthanc.url }, Recipes: { earlier: { Enabled: true }, picky: { Enabled: true, Size: 7 } } },
      [earlier, picky],
    ).then(
      () => assert.fail('started'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, /: recipe "picky": \/Recipes\/picky\/Size: Orthanc has no room for 7$/);
    assert.equal(closed, 1);
    assert.ok(seenConfigDirectory.startsWith('/'), seenConfigDirectory);
  });
});
