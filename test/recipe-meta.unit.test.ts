import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundledRecipes } from '../host/registry.js';
import type { FakeRoutes } from './helpers/fake-orthanc.js';
import { startRecipe } from './helpers/recipe-tester.js';

/**
 * Each bundled recipe, set up in the host in front of a fake Orthanc with options that turn on
 * everything it can register, must register exactly what its `meta` declares (the host compares
 * them at setup and logs `meta does not match setup: ...`; here any such line fails).
 */
const everything: Record<
  string,
  { options?: Record<string, unknown>; orthanc?: FakeRoutes; hostConfig?: Record<string, unknown>; skip?: string }
> = {
  autorouting: {
    options: {
      Rules: [
        { Level: 'Study', Destinations: ['pacs'] },
        { Level: 'Series', Destinations: ['pacs'] },
        { Level: 'Instance', Destinations: ['pacs'] },
      ],
      DeleteAfterRouting: false,
    },
    orthanc: {
      'GET /modalities': { json: ['pacs'] },
      'GET /peers': { json: [] },
      'GET /tools/now': { body: '20261205T090000' },
      'GET /studies': { json: [] },
      'GET /series': { json: [] },
      'GET /instances': { json: [] },
    },
  },
  authorization: { options: { Rules: [{ Path: '/**', Users: ['*'] }] } },
  'metadata-find': { options: { MetadataIndex: true } },
  scheduler: { options: { Tasks: [{ Name: 'stats', Every: '1h', Task: 'log-statistics' }] } },
  // The bridge's filters need the Lua bridge, which the host runs when a recipe asks for it.
  'receive-filter': { hostConfig: { Bridge: { Enabled: true, Port: 0 } } },
  // It writes to a PostgreSQL at setup: recipes/mirror/test sets it up against a real one.
  mirror: { skip: 'needs a PostgreSQL (its integration test covers it)' },
};

describe('bundled recipes: meta.routes and meta.events are what setup registers', () => {
  for (const [id, load] of Object.entries(bundledRecipes)) {
    it(id, { skip: everything[id]?.skip }, async () => {
      const recipe = await load();
      const running = await startRecipe(recipe, everything[id]);
      try {
        const lines = running.recipeLog();
        assert.ok(!lines.some((line) => line.startsWith('setup failed')), lines.join('\n'));
        assert.deepEqual(
          lines.filter((line) => line.startsWith('meta does not match setup')),
          [],
        );
      } finally {
        await running.close();
      }
    });
  }
});
