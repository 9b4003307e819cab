import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import type { FakeCall, FakeRoutes } from '../../../test/helpers/fake-orthanc.js';
import { RecipeTester, startRecipe, type RecipeUnderTest } from '../../../test/helpers/recipe-tester.js';
import autorouting from '../index.js';

// The fast tier of autorouting: the recipe in a real host (its real ledger in SQLite) in front of
// a fake Orthanc that answers /studies/{id}, /modalities/{name}/store and /jobs/{id}. The
// integration suites (routing, resilience, sweep, windows, prune, dicomweb) run it against a
// real Orthanc and real DICOM peers.

const now = '20261205T120000';
const study = (id: string, tags: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  ID: id,
  MainDicomTags: { StudyDescription: 'CT HEAD', StudyDate: '20261205', ...tags },
  PatientMainDicomTags: { PatientID: 'P1' },
  LastUpdate: '20261205T115900',
  IsStable: true,
  Series: ['se-1'],
  ...extra,
});
/** Orthanc's `?since=&limit=` paging over `items`. */
const paged = (items: unknown[]) => (call: FakeCall) => {
  const since = Number(call.query.since ?? 0);
  return { json: items.slice(since, since + Number(call.query.limit ?? items.length)) };
};
const orthanc = (routes: FakeRoutes = {}): FakeRoutes => ({
  'GET /tools/now': { body: now },
  // The host-action probe (HttpServer.HostActionProbe) in front of /status and /retry.
  'GET /jobs': { json: [] },
  'GET /modalities': { json: ['pacs', 'backup'] },
  'GET /peers': { json: [] },
  'GET /studies': paged([]),
  'GET /studies/s-1': { json: study('s-1') },
  'POST /modalities/pacs/store': { json: { ID: 'job-1', Path: '/jobs/job-1' } },
  'POST /modalities/backup/store': { json: { ID: 'job-2', Path: '/jobs/job-2' } },
  'GET /jobs/job-1': { json: { ID: 'job-1', State: 'Success' } },
  'GET /jobs/job-2': { json: { ID: 'job-2', State: 'Success' } },
  ...routes,
});
const rule = (extra: Record<string, unknown> = {}) => ({ Level: 'Study', Destinations: ['pacs'], ...extra });
const fast = { InitialDelaySeconds: 0.01, MaxDelaySeconds: 0.02 };

interface Status {
  Routes: Record<'Pending' | 'Sending' | 'Succeeded' | 'Failed' | 'Gone' | 'Cancelled', number>;
  Resources: Record<'Routed' | 'Unmatched' | 'DryRun', number>;
  Failures: { Resource: string; Destination: string; Attempts: number; LastError: string }[];
  Cancelled: { Resource: string; Destination: string; LastError: string }[];
  Unmatched: { Resource: string; Level: string }[];
  Sweep: { LastFinished: string | null };
}
const statusOf = async (recipe: RecipeUnderTest): Promise<Status> =>
  JSON.parse((await recipe.request('GET /recipes/autorouting/status')).body.toString());
const until = async (recipe: RecipeUnderTest, done: (status: Status) => boolean) => {
  let last: Status | undefined;
  await eventually(async () => done((last = await statusOf(recipe))), 5000).catch((error: Error) => {
    throw new Error(`${error.message}; last status: ${JSON.stringify(last)}`);
  });
  return last!;
};
const storeBodies = (recipe: RecipeUnderTest, name = 'pacs') =>
  recipe.orthanc.callsTo('POST', `/modalities/${name}/store`).map((call) => JSON.parse(call.body.toString()));

describe('autorouting decisions (fake Orthanc)', () => {
  const cases: {
    name: string;
    options?: Record<string, unknown>;
    routes?: FakeRoutes;
    changes?: [string, string, string][];
    expect: (recipe: RecipeUnderTest, status: Status) => void;
    done: (status: Status) => boolean;
  }[] = [
    {
      name: 'a stable study matching a rule is sent to its destination as an asynchronous job, followed to Success',
      options: { Rules: [rule({ Filter: { StudyDescription: 'CT*' } })] },
      done: (s) => s.Routes.Succeeded === 1,
      expect: (recipe, s) => {
        assert.deepEqual(storeBodies(recipe), [{ Resources: ['s-1'], Asynchronous: true }]);
        assert.ok(recipe.orthanc.callsTo('GET', '/jobs/job-1').length >= 1, 'the job is followed');
        assert.equal(s.Resources.Routed, 1);
      },
    },
    {
      name: 'a study that no rule matches is recorded as unmatched and sent nowhere',
      options: { Rules: [rule({ Filter: { StudyDescription: 'MR*' } })] },
      done: (s) => s.Resources.Unmatched === 1,
      expect: (recipe, s) => {
        assert.deepEqual(storeBodies(recipe), []);
        assert.deepEqual(
          s.Unmatched.map((u) => [u.Resource, u.Level]),
          [['s-1', 'Study']],
        );
      },
    },
    {
      name: 'a dry run logs the request it would send, and sends nothing',
      options: { Rules: [rule()], DryRun: true },
      done: (s) => s.Resources.DryRun === 1,
      expect: (recipe) => {
        assert.deepEqual(storeBodies(recipe), []);
        assert.ok(
          recipe
            .recipeLog()
            .some((line) => line.startsWith('dry run: would send study=s-1 ') && line.includes('POST /modalities/pacs/store')),
        );
      },
    },
    {
      name: 'the destinations of every matching rule get it once each',
      options: { Rules: [rule(), rule({ Destinations: ['pacs', 'backup'] })] },
      done: (s) => s.Routes.Succeeded === 2,
      expect: (recipe) => {
        assert.equal(storeBodies(recipe).length, 1);
        assert.equal(storeBodies(recipe, 'backup').length, 1);
      },
    },
    {
      name: "ModalitiesInStudy is read from the study's series",
      options: { Rules: [rule({ Filter: { ModalitiesInStudy: 'CT' } })] },
      routes: { 'GET /studies/s-1/series': { json: [{ ID: 'se-1', MainDicomTags: { Modality: 'CT' }, Instances: ['i-1'] }] } },
      done: (s) => s.Routes.Succeeded === 1,
      expect: (recipe) => assert.equal(recipe.orthanc.callsTo('GET', '/studies/s-1/series').length, 1),
    },
    {
      name: 'a study deleted before its decision is not routed',
      options: { Rules: [rule()] },
      routes: { 'GET /studies/s-1': { status: 404, json: { HttpStatus: 404, Message: 'Unknown resource' } } },
      done: () => true,
      expect: (recipe, s) => {
        assert.deepEqual(storeBodies(recipe), []);
        assert.equal(s.Resources.Routed + s.Resources.Unmatched, 0);
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const recipe = await startRecipe(autorouting, { options: { Retry: fast, ...c.options }, orthanc: orthanc(c.routes) });
      try {
        await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
        c.expect(recipe, await until(recipe, c.done));
      } finally {
        await recipe.close();
      }
    });
  }

  it('an unstable study waits for its next Stable change; the same LastUpdate twice is decided once', async () => {
    let stable = false;
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], Retry: fast },
      orthanc: orthanc({ 'GET /studies/s-1': () => ({ json: study('s-1', {}, { IsStable: stable }) }) }),
    });
    try {
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      assert.equal((await statusOf(recipe)).Resources.Routed, 0);
      stable = true;
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      await until(recipe, (s) => s.Routes.Succeeded === 1);
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      const s = await statusOf(recipe);
      assert.equal(s.Resources.Routed, 1);
      assert.equal(storeBodies(recipe).length, 1, 'at-least-once delivery of the change, one send');
    } finally {
      await recipe.close();
    }
  });
});

describe('autorouting sender (fake Orthanc)', () => {
  it('retries a failed job with back-off, marks it failed after MaxAttempts, and sends it again on POST /retry', async () => {
    let state = 'Failure';
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], Retry: { ...fast, MaxAttempts: 2 } },
      orthanc: orthanc({
        'GET /jobs/job-1': () => ({
          json: {
            ID: 'job-1',
            State: state,
            ErrorCode: 9,
            ErrorDescription: 'Error in the network protocol',
            ErrorDetails: 'C-STORE refused',
          },
        }),
      }),
    });
    try {
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      const failed = await until(recipe, (s) => s.Routes.Failed === 1);
      assert.equal(storeBodies(recipe).length, 2);
      assert.equal(failed.Failures[0]?.Attempts, 2);
      assert.match(failed.Failures[0]?.LastError ?? '', /job job-1 failed: Error in the network protocol: C-STORE refused/);
      assert.ok(
        recipe
          .recipeLog()
          .some((line) =>
            /^attempt failed; trying again study=s-1 destination=Modality:pacs attempt=1 maxAttempts=2 delaySeconds=/.test(line),
          ),
      );
      state = 'Success';
      const retried = await recipe.request({ method: 'POST', path: '/recipes/autorouting/retry?id=s-1' });
      assert.deepEqual(JSON.parse(retried.body.toString()), { Retried: 1 });
      await until(recipe, (s) => s.Routes.Succeeded === 1 && s.Routes.Failed === 0);
      assert.equal(storeBodies(recipe).length, 3);
    } finally {
      await recipe.close();
    }
  });

  it('counts a job that failed after sending part of the study as RetriedAfterPartialFailure: sent again whole, that part arrives twice', async () => {
    // As when Orthanc's index (PostgreSQL) went away while its job ran: the first instance went,
    // the second could not be read, and Orthanc restarts a store job from its first instance.
    let lookups = 0;
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], Retry: fast },
      orthanc: orthanc({
        'GET /jobs/job-1': () => ({
          json:
            ++lookups === 1
              ? { ID: 'job-1', State: 'Failure', Progress: 50, ErrorCode: -1, ErrorDescription: 'Internal error' }
              : { ID: 'job-1', State: 'Success', Progress: 100 },
        }),
      }),
    });
    try {
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      const status = (await until(recipe, (s) => s.Routes.Succeeded === 1)) as Status & Record<string, number>;
      assert.equal(storeBodies(recipe).length, 2);
      assert.equal(status.RetriedAfterPartialFailure, 1);
      assert.equal(status.RetriedAfterTakeover, 0);
    } finally {
      await recipe.close();
    }
  });

  it('does not count a job that failed before sending anything', async () => {
    let lookups = 0;
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], Retry: fast },
      orthanc: orthanc({
        'GET /jobs/job-1': () => ({
          json: ++lookups === 1 ? { ID: 'job-1', State: 'Failure', Progress: 0, ErrorCode: 9 } : { ID: 'job-1', State: 'Success' },
        }),
      }),
    });
    try {
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      const status = (await until(recipe, (s) => s.Routes.Succeeded === 1)) as Status & Record<string, number>;
      assert.equal(status.RetriedAfterPartialFailure, 0);
    } finally {
      await recipe.close();
    }
  });

  it('answers 404 to a retry of a resource the ledger does not know, and 405 to a GET', async () => {
    const recipe = await startRecipe(autorouting, { options: { Rules: [rule()] }, orthanc: orthanc() });
    try {
      assert.equal((await recipe.request({ method: 'POST', path: '/recipes/autorouting/retry?id=nope' })).status, 404);
      assert.equal((await recipe.request('GET /recipes/autorouting/retry')).status, 405);
    } finally {
      await recipe.close();
    }
  });

  it("sends again when the job vanished from Orthanc's history before its outcome was read", async () => {
    let jobLookups = 0;
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], Retry: fast },
      orthanc: orthanc({
        'GET /jobs/job-1': () => (++jobLookups === 1 ? { status: 404, json: { HttpStatus: 404 } } : { json: { State: 'Success' } }),
      }),
    });
    try {
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      await until(recipe, (s) => s.Routes.Succeeded === 1);
      assert.equal(storeBodies(recipe).length, 2);
      assert.ok(recipe.recipeLog().some((line) => /vanished from Orthanc's jobs history/.test(line)));
    } finally {
      await recipe.close();
    }
  });

  it('marks the route gone when the study was deleted before its send', async () => {
    let deleted = false;
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], Retry: fast },
      orthanc: orthanc({
        'GET /studies/s-1': () => (deleted ? { status: 404, json: { HttpStatus: 404 } } : { json: study('s-1') }),
        'POST /modalities/pacs/store': () => {
          deleted = true;
          return { status: 404, json: { HttpStatus: 404, Message: 'Unknown resource' } };
        },
      }),
    });
    try {
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      const s = await until(recipe, (status) => status.Routes.Gone === 1);
      assert.equal(s.Routes.Failed + s.Routes.Pending, 0);
    } finally {
      await recipe.close();
    }
  });

  it('cancels the routes of a destination Orthanc forgot, and names the reason', async () => {
    let modalities = ['pacs'];
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], Retry: { ...fast, MaxAttempts: 1 } },
      orthanc: orthanc({
        'GET /modalities': () => ({ json: modalities }),
        'POST /modalities/pacs/store': () => {
          modalities = [];
          return { status: 404, json: { HttpStatus: 404, Message: 'Unknown modality' } };
        },
      }),
    });
    try {
      await recipe.pushChanges([['STABLE_STUDY', 'STUDY', 's-1']]);
      const s = await until(recipe, (status) => status.Routes.Cancelled === 1);
      assert.match(s.Cancelled[0]?.LastError ?? '', /pacs/);
    } finally {
      await recipe.close();
    }
  });
});

describe('autorouting sweep (fake Orthanc)', () => {
  it('routes the stable studies already in Orthanc at the first start with RouteExistingOnFirstStart, paging with since/limit', async () => {
    const listing = [study('s-1'), study('s-2', {}, { IsStable: false }), study('s-3')];
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], RouteExistingOnFirstStart: true, Retry: fast },
      orthanc: orthanc({
        'GET /studies': paged(listing),
        'GET /studies/s-3': { json: study('s-3') },
        'POST /modalities/pacs/store': (call) => ({ json: { ID: `job-${JSON.parse(call.body.toString()).Resources[0]}` } }),
        'GET /jobs/job-s-1': { json: { State: 'Success' } },
        'GET /jobs/job-s-3': { json: { State: 'Success' } },
      }),
    });
    try {
      await until(recipe, (s) => s.Routes.Succeeded === 2);
      assert.deepEqual(
        storeBodies(recipe)
          .map((b) => b.Resources[0])
          .sort(),
        ['s-1', 's-3'],
      );
      const listings = recipe.orthanc.callsTo('GET', '/studies');
      assert.ok(
        listings.length >= 1 && listings.every((call) => 'expand' in call.query && call.query.limit !== undefined),
        JSON.stringify(listings.map((c) => c.uri)),
      );
    } finally {
      await recipe.close();
    }
  });

  it('leaves the studies last updated before the first start alone without RouteExistingOnFirstStart', async () => {
    const recipe = await startRecipe(autorouting, {
      options: { Rules: [rule()], FirstStartMarginSeconds: 60, Retry: fast },
      orthanc: orthanc({ 'GET /studies': paged([study('old', {}, { LastUpdate: '20261201T000000' })]) }),
    });
    try {
      const s = await until(recipe, (status) => status.Sweep.LastFinished !== null);
      assert.ok(recipe.orthanc.callsTo('GET', '/studies').length > 0);
      assert.equal(s.Resources.Routed + s.Resources.Unmatched, 0);
      assert.deepEqual(storeBodies(recipe), []);
    } finally {
      await recipe.close();
    }
  });
});

new RecipeTester(autorouting, { orthanc: orthanc() }).run([
  {
    name: 'refuses a destination this Orthanc does not know, with its JSON pointer',
    options: { Rules: [rule({ Destinations: ['nowhere'] })] },
    expect: { configError: /\/Recipes\/autorouting\/Rules\/0\/Destinations\/0/ },
  },
  {
    name: 'refuses DeleteAfterRouting over two levels',
    options: { Rules: [rule(), rule({ Level: 'Series' })], DeleteAfterRouting: true },
    expect: { configError: /DeleteAfterRouting/ },
  },
  {
    name: 'refuses InitialDelaySeconds above MaxDelaySeconds',
    options: { Rules: [rule()], Retry: { InitialDelaySeconds: 10, MaxDelaySeconds: 1 } },
    expect: { configError: /\/Retry\/InitialDelaySeconds/ },
  },
  {
    name: "answers its status with counts and RoutingSince drawn FirstStartMarginSeconds before Orthanc's time",
    options: { Rules: [rule()], FirstStartMarginSeconds: 60 },
    request: 'GET /recipes/autorouting/status',
    expect: { status: 200 },
    check: ({ answer }) => {
      const status = JSON.parse(answer!.body.toString());
      assert.equal(status.RoutingSince, '20261205T115900');
      assert.deepEqual(status.Routes, { Pending: 0, Sending: 0, Succeeded: 0, Failed: 0, Gone: 0, Cancelled: 0 });
    },
  },
]);
