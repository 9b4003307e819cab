import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeTypeName, ResourceTypeName } from '../../shared/binding/index.js';
import { ConfigError, type Host } from '../../host/index.js';
import type { AnyRecipe } from '../../shared/recipe.js';
import { FakeOrthanc, type FakeRoutes } from './fake-orthanc.js';
import { startHostInProcess, type LineLog } from './host.js';
import { rawRequest, type RawResponse } from './http.js';

/** A request to the recipe: `"GET /recipes/hello"`, or its parts. */
export type TesterRequest = string | { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer | object };

/** A change pushed to the fake `/changes`: `['NEW_INSTANCE', 'INSTANCE', 'abc']`. */
export type TesterChange = readonly [ChangeTypeName, ResourceTypeName, string];

/** What a case expects; every field is optional and only what is given is checked. */
export interface TesterExpectation {
  status?: number;
  /** The answer's body, parsed as JSON, deep-equal to this. */
  json?: unknown;
  /** The answer's body as text: equal to a string, or matching a RegExp. */
  body?: string | RegExp;
  /** Answer headers (names in lower case) equal to these. */
  headers?: Record<string, string>;
  /** Calls the recipe made to Orthanc, `"METHOD /path"` (query left out), in order, each at least once. */
  calls?: string[];
  /** Calls it must not have made. */
  noCalls?: string[];
  /** Lines of the recipe's own log matching each pattern, in any order. */
  logs?: RegExp[];
  /** Loading fails with a configuration error whose message matches (a JSON pointer, say). */
  configError?: RegExp;
}

/** One table row, in the manner of ESLint's RuleTester: set up, push, ask, compare. */
export interface RecipeTestCase {
  name: string;
  /** The recipe's options (the `Enabled` key is added). */
  options?: Record<string, unknown>;
  /** What the fake Orthanc answers (see `FakeRoutes`); `/system` and `/changes` come for free. */
  orthanc?: FakeRoutes;
  /** Changes pushed once the recipe is set up; the case waits until the recipe has handled them. */
  changes?: readonly TesterChange[];
  request?: TesterRequest;
  expect?: TesterExpectation;
  /** Free-form assertions after the expectations. */
  check?(result: TesterResult): void | Promise<void>;
  /** `only`/`skip`, as node:test has them. */
  only?: boolean;
  skip?: boolean;
}

export interface TesterResult {
  /** The answer to the case's request, if it had one. */
  answer: RawResponse | undefined;
  recipe: RecipeUnderTest;
}

/** A recipe set up in a real host, in this process, in front of a `FakeOrthanc`. */
export interface RecipeUnderTest {
  orthanc: FakeOrthanc;
  host: Host;
  url: string;
  /** Every line the host logged; `recipeLog()` for the recipe's own. */
  log: LineLog;
  recipeLog(): string[];
  request(request: TesterRequest): Promise<RawResponse>;
  /** Pushes changes and resolves once every subscriber has finished them. */
  pushChanges(changes: readonly TesterChange[]): Promise<void>;
  /** Resolves once the change feed has delivered, and every recipe finished, all pushed changes. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Sets `recipe` up with `options` in a real host (its real config validation, change feed, front
 * and state database in a temporary folder) in front of a fake Orthanc: no Orthanc needed, a few
 * milliseconds a case. The host polls `/changes` every 10 ms.
 */
export async function startRecipe(
  recipe: AnyRecipe,
  setup: { options?: Record<string, unknown>; orthanc?: FakeRoutes; hostConfig?: Record<string, unknown> } = {},
): Promise<RecipeUnderTest> {
  const orthanc = await FakeOrthanc.start(setup.orthanc);
  let started: Awaited<ReturnType<typeof startHostInProcess>>;
  try {
    started = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url },
        ChangeFeed: { PollIntervalMilliseconds: 10 },
        ...setup.hostConfig,
        Recipes: { [recipe.meta.id]: { Enabled: true, ...setup.options } },
      },
      [recipe],
    );
  } catch (error) {
    await orthanc.close();
    throw error;
  }
  const { host, url, log, directory } = started;
  const settle = async (timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (host.feed.cursor < orthanc.lastSeq || host.feed.backlog > 0) {
      if (Date.now() > deadline)
        throw new Error(
          `the recipe did not finish the pushed changes within ${timeoutMs} ms (cursor ${host.feed.cursor}, last ${orthanc.lastSeq})`,
        );
      await sleep(2);
    }
  };
  return {
    orthanc,
    host,
    url,
    log,
    recipeLog: () => log.messages(recipe.meta.id),
    request: (request) => send(url, request),
    async pushChanges(changes) {
      for (const [changeType, resourceType, id] of changes) orthanc.pushChange(changeType, resourceType, id);
      await settle();
    },
    settle,
    async close() {
      await host.close();
      await orthanc.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function send(url: string, request: TesterRequest): Promise<RawResponse> {
  const {
    method = 'GET',
    path,
    headers = {},
    body,
  } = typeof request === 'string' ? { method: request.split(' ')[0], path: request.slice(request.indexOf(' ') + 1) } : request;
  const isJson = body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body);
  return rawRequest(`${url}${path}`, {
    method,
    headers: isJson ? { 'content-type': 'application/json', ...headers } : headers,
    body: isJson ? JSON.stringify(body) : body,
  });
}

/**
 * Table-driven tests of one recipe, as ESLint's RuleTester does for rules: each case sets the
 * recipe up afresh on a fake Orthanc, pushes its changes, sends its request and checks what it
 * expects (the answer, the calls made to Orthanc, the log). `run` registers one node:test test a
 * case under a `describe` named after the recipe.
 */
export class RecipeTester {
  constructor(
    readonly recipe: AnyRecipe,
    readonly defaults: { options?: Record<string, unknown>; orthanc?: FakeRoutes; hostConfig?: Record<string, unknown> } = {},
  ) {}

  run(cases: readonly RecipeTestCase[]): void {
    describe(`recipe ${this.recipe.meta.id} (RecipeTester)`, () => {
      for (const testCase of cases) {
        it(testCase.name, { only: testCase.only, skip: testCase.skip }, () => this.runCase(testCase));
      }
    });
  }

  /** Runs one case (what `run` registers); usable on its own inside any test. */
  async runCase(testCase: RecipeTestCase): Promise<void> {
    const expect = testCase.expect ?? {};
    let recipe: RecipeUnderTest;
    try {
      recipe = await startRecipe(this.recipe, {
        options: { ...this.defaults.options, ...testCase.options },
        orthanc: { ...this.defaults.orthanc, ...testCase.orthanc },
        hostConfig: this.defaults.hostConfig,
      });
    } catch (error) {
      if (expect.configError && error instanceof ConfigError) return assert.match(error.message, expect.configError);
      throw error;
    }
    try {
      assert.equal(expect.configError, undefined, 'the configuration was expected to be refused');
      if (testCase.changes) await recipe.pushChanges(testCase.changes);
      const answer = testCase.request === undefined ? undefined : await recipe.request(testCase.request);
      checkAnswer(answer, expect);
      const made = recipe.orthanc.calls.map((call) => `${call.method} ${call.path}`);
      for (const call of expect.calls ?? [])
        assert.ok(made.includes(call), `expected the call ${call}; made: ${made.join(', ') || 'none'}`);
      for (const call of expect.noCalls ?? []) assert.ok(!made.includes(call), `the recipe called ${call}`);
      const lines = recipe.recipeLog();
      for (const pattern of expect.logs ?? [])
        assert.ok(
          lines.some((line) => pattern.test(line)),
          `no log line matched ${pattern}; logged:\n${lines.join('\n')}`,
        );
      await testCase.check?.({ answer, recipe });
    } finally {
      await recipe.close();
    }
  }
}

function checkAnswer(answer: RawResponse | undefined, expect: TesterExpectation): void {
  if (expect.status === undefined && expect.json === undefined && expect.body === undefined && expect.headers === undefined) return;
  assert.ok(answer, 'the case expects an answer but sends no request');
  const text = answer.body.toString();
  if (expect.status !== undefined) assert.equal(answer.status, expect.status, `status (body: ${text.slice(0, 300)})`);
  if (expect.json !== undefined) assert.deepEqual(JSON.parse(text), expect.json);
  if (typeof expect.body === 'string') assert.equal(text, expect.body);
  else if (expect.body) assert.match(text, expect.body);
  for (const [name, value] of Object.entries(expect.headers ?? {}))
    assert.equal(answer.headers[name.toLowerCase()], value, `header ${name}`);
}
