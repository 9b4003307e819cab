import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { once } from 'node:events';
import { RestRouter, createLogger, type ChangeTypeName } from '../shared/binding/index.js';
import { defineRecipe } from '../shared/recipe.js';
import { RecipeLifetime } from '../shared/recipe-lifetime.js';
import { compareDeclarations } from '../shared/recipe-declarations.js';
import { eventually } from './helpers/changes.js';
import { startRecipe } from './helpers/recipe-tester.js';

const quiet = createLogger('test', { level: 'error', write: () => undefined });
const meta = (id: string, routes: string[] = [], events: ChangeTypeName[] = []) => ({
  id,
  title: id,
  description: 'A recipe for the host lifecycle tests.',
  routes,
  events,
  destructive: false,
});

describe('RecipeLifetime (ctx.signal, ctx.onClose)', () => {
  it('aborts its signal, then runs the cleanups last first, once; a failing cleanup does not stop the others', async () => {
    const host = new AbortController();
    const lifetime = new RecipeLifetime(host.signal, quiet);
    const ran: string[] = [];
    lifetime.onClose(() => ran.push(`first, aborted=${lifetime.signal.aborted}`));
    lifetime.onClose(() => {
      throw new Error('cleanup fails');
    });
    lifetime.onClose(async () => ran.push('second'));
    await Promise.all([lifetime.close(), lifetime.close()]);
    assert.deepEqual(ran, ['second', 'first, aborted=true']);
    lifetime.onClose(() => ran.push('late'));
    await eventually(() => ran.at(-1) === 'late');
    assert.equal(host.signal.aborted, false, "a recipe's closing leaves the host's signal alone");
  });

  it("aborts with the host's signal", () => {
    const host = new AbortController();
    const lifetime = new RecipeLifetime(host.signal, quiet);
    host.abort(new Error('host stops'));
    assert.equal(lifetime.signal.aborted, true);
    assert.equal(new RecipeLifetime(host.signal, quiet).signal.aborted, true);
  });
});

describe('setup in the host (fake Orthanc)', () => {
  it('cancels a setup that times out: its signal aborted, its cleanups run, its late registrations removed', async () => {
    let signal: AbortSignal | undefined;
    const cleaned: string[] = [];
    const hangs = defineRecipe({
      meta: meta('hangs', ['GET /hangs/late']),
      schema: { type: 'object', properties: {}, additionalProperties: false },
      async setup(ctx) {
        signal = ctx.signal;
        ctx.onClose(() => cleaned.push('onClose'));
        await once(ctx.signal, 'abort');
        // A setup that keeps going after its timeout: what it registers now is removed at once.
        ctx.orthanc.registerRestCallback('/hangs/late', (output) => output.answerBuffer('late', 'text/plain'));
        return { close: () => cleaned.push('handle') };
      },
    });
    const recipe = await startRecipe(hangs, { hostConfig: { RecipeSetupTimeoutSeconds: 0.05 } });
    try {
      assert.equal(signal?.aborted, true);
      assert.match(String(signal?.reason), /did not finish within 0.05 s/);
      await eventually(() => cleaned.length === 2);
      assert.deepEqual(cleaned, ['onClose', 'handle']);
      assert.ok(!recipe.host.router.routes.some((route) => route.owner === 'hangs'));
      assert.equal((await recipe.request('GET /hangs/late')).status, 404);
    } finally {
      await recipe.close();
    }
  });

  it('closes a running recipe through its onClose cleanups, with ctx.signal aborted', async () => {
    const seen: string[] = [];
    const closes = defineRecipe({
      meta: meta('closes'),
      schema: { type: 'object', properties: {}, additionalProperties: false },
      setup(ctx) {
        ctx.onClose(() => seen.push(`closed, aborted=${ctx.signal.aborted}`));
      },
    });
    const recipe = await startRecipe(closes);
    assert.deepEqual(seen, []);
    await recipe.close();
    assert.deepEqual(seen, ['closed, aborted=true']);
  });

  it('refuses a route registered twice, and disables only that recipe', async () => {
    const twice = defineRecipe({
      meta: meta('twice', ['GET /twice']),
      schema: { type: 'object', properties: {}, additionalProperties: false },
      setup({ orthanc }) {
        orthanc.registerRestCallback('/twice', (output) => output.answerBuffer('1', 'text/plain'));
        orthanc.registerRestCallback('/twice', (output) => output.answerBuffer('2', 'text/plain'));
      },
    });
    const recipe = await startRecipe(twice);
    try {
      assert.ok(
        recipe.recipeLog().some((line) => /setup failed.*route \/twice is registered twice \(it already registered it\)/.test(line)),
        recipe.recipeLog().join('\n'),
      );
      assert.equal((await recipe.request('GET /twice')).status, 404);
    } finally {
      await recipe.close();
    }
  });

  it('warns at setup when meta leaves out a route or an event that setup registered', async () => {
    const sloppy = defineRecipe({
      meta: meta('sloppy', ['GET /sloppy/{id}', 'GET /sloppy-never'], []),
      schema: { type: 'object', properties: {}, additionalProperties: false },
      setup({ orthanc }) {
        orthanc.registerRestCallback('/sloppy/([^/]+)', (output) => output.answerBuffer('1', 'text/plain'));
        orthanc.registerRestCallback('/sloppy-extra', (output) => output.answerBuffer('1', 'text/plain'));
        orthanc.registerOnChangeCallback(() => undefined, { types: ['STABLE_STUDY'] });
      },
    });
    const recipe = await startRecipe(sloppy);
    try {
      const lines = recipe.recipeLog().filter((line) => line.startsWith('meta does not match setup'));
      assert.deepEqual(lines.sort(), [
        'meta does not match setup: meta.routes lists GET /sloppy-never, which setup did not register',
        'meta does not match setup: setup listens to STABLE_STUDY, which meta.events does not list',
        'meta does not match setup: setup registered the route /sloppy-extra, which meta.routes does not list',
      ]);
      assert.ok(
        recipe.log.lines.some((line) => /^W .*sloppy\] meta does not match setup: setup registered the route \/sloppy-extra/.test(line)),
      );
    } finally {
      await recipe.close();
    }
  });
});

describe('RestRouter.register', () => {
  it('refuses the same pattern from a second owner, naming the first', () => {
    const router = new RestRouter();
    const remove = router.register('a', '/x', () => undefined);
    assert.throws(
      () => router.register('b', '/x', () => undefined),
      /recipe b: the route \/x is registered twice \(recipe a registered it first\)/,
    );
    remove();
    router.register('b', '/x', () => undefined);
  });
});

describe('compareDeclarations', () => {
  const cases: {
    name: string;
    routes: string[];
    events: string[];
    registered: { routes: string[]; events: string[] | 'all' };
    expect: string[];
  }[] = [
    { name: 'a literal pattern', routes: ['* /(to)(t)o'], events: [], registered: { routes: ['/(to)(t)o'], events: [] }, expect: [] },
    {
      name: '{id} against a capture',
      routes: ['GET /instances/{id}/thumbnail'],
      events: [],
      registered: { routes: ['/instances/([^/]+)/thumbnail'], events: [] },
      expect: [],
    },
    {
      name: 'one pattern serving several declared routes',
      routes: ['GET /ui/', 'GET /ui/{file}'],
      events: [],
      registered: { routes: ['/ui/(.*)'], events: [] },
      expect: [],
    },
    {
      name: 'a pattern no declared route matches',
      routes: ['GET /a'],
      events: [],
      registered: { routes: ['/a', '/b'], events: [] },
      expect: ['undeclared'],
    },
    {
      name: 'a declared route not registered',
      routes: ['GET /a'],
      events: [],
      registered: { routes: [], events: [] },
      expect: ['unregistered'],
    },
    { name: 'every change type, none declared', routes: [], events: [], registered: { routes: [], events: 'all' }, expect: ['undeclared'] },
    {
      name: 'every change type, some declared',
      routes: [],
      events: ['NEW_INSTANCE'],
      registered: { routes: [], events: 'all' },
      expect: [],
    },
    {
      name: 'events both ways',
      routes: [],
      events: ['NEW_INSTANCE'],
      registered: { routes: [], events: ['STABLE_STUDY'] },
      expect: ['undeclared', 'unregistered'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const found = compareDeclarations({ routes: c.routes, events: c.events as never }, c.registered as never);
      assert.deepEqual(found.map((m) => m.kind).sort(), c.expect.sort(), JSON.stringify(found));
    });
  }
});
