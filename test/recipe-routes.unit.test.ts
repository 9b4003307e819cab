import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BindingError, OrthancHttpError, RestOutput, RestRouter, allowHeader, errorBody, servesMethod } from '../shared/binding/index.js';
import { compareDeclarations } from '../shared/recipe-declarations.js';
import { RecipeHttpError, defineRecipe } from '../shared/recipe.js';
import { basicAuth } from './helpers/http.js';
import { RecipeTester, startRecipe, type RecipeUnderTest } from './helpers/recipe-tester.js';

// The fast tier of what the platform does for a route: method dispatch (405 + Allow), the one
// JSON error shape, RecipeHttpError, Orthanc's error fields, output.passThrough(). A real host in
// front of the fake Orthanc; test/recipe-platform.test.ts checks the same against a real Orthanc.

let calls = 0;
const probe = defineRecipe({
  meta: {
    id: 'route-probe',
    title: 'Route probe',
    description: 'Routes for the platform tests.',
    routes: [
      'GET /probe/get',
      'GET,HEAD /probe/get-head',
      '* /probe/any',
      'GET /probe/recipe-error',
      'GET /probe/orthanc-error',
      'GET /probe/unknown-error',
      'GET,POST /probe/pass',
      'GET /probe/late-pass',
    ],
    events: [],
    destructive: false,
  },
  schema: { type: 'object', properties: {}, additionalProperties: false },
  setup({ orthanc }) {
    orthanc.registerRestCallback(
      '/probe/get',
      (output) => {
        calls += 1;
        output.answerJson({ ok: true });
      },
      { methods: ['GET'], maxBodyBytes: 0 },
    );
    orthanc.registerRestCallback('/probe/get-head', (output) => output.answerBuffer('served\n', 'text/plain'), {
      methods: ['GET', 'HEAD'],
    });
    orthanc.registerRestCallback('/probe/any', (output, _uri, request) => output.answerBuffer(request.method, 'text/plain'));
    orthanc.registerRestCallback(
      '/probe/recipe-error',
      () => {
        throw new RecipeHttpError(422, 'custom-code', 'what went wrong', { Field: 'x', HttpStatus: 999, Code: 'overridden?' });
      },
      { methods: ['GET'] },
    );
    orthanc.registerRestCallback(
      '/probe/orthanc-error',
      async (_output, _uri, request) => {
        await request.orthanc.restApiGetJson(`/instances/${request.get.which ?? 'missing'}`);
      },
      { methods: ['GET'] },
    );
    orthanc.registerRestCallback(
      '/probe/unknown-error',
      () => {
        throw new Error('secret internal detail /var/lib/orthanc');
      },
      { methods: ['GET'] },
    );
    orthanc.registerRestCallback(
      '/probe/pass',
      (output) => {
        output.setHttpHeader('x-dropped', 'set before the pass-through');
        return output.passThrough();
      },
      { methods: ['GET', 'POST'] },
    );
    orthanc.registerRestCallback(
      '/probe/late-pass',
      async (output) => {
        output.answerBuffer('first', 'text/plain');
        await output.passThrough();
      },
      { methods: ['GET'] },
    );
  },
});

const orthancNotFound = {
  HttpError: 'Not Found',
  HttpStatus: 404,
  Message: 'Unknown resource',
  Method: 'GET',
  OrthancError: 'Unknown resource',
  OrthancStatus: 17,
  Uri: '/instances/missing',
};

describe('recipe routes: method dispatch, one error shape, pass-through (fake Orthanc)', () => {
  let recipe: RecipeUnderTest;
  before(async () => {
    recipe = await startRecipe(probe, {
      orthanc: {
        'GET /instances/missing': { status: 404, json: orthancNotFound },
        'GET /instances/failing': {
          status: 500,
          json: {
            HttpError: 'Internal Server Error',
            HttpStatus: 500,
            Message: 'Database error',
            OrthancError: 'Database error',
            OrthancStatus: 11,
            Details: 'disk full',
          },
        },
        'GET /instances/bare': { status: 404, body: '' },
        'GET /probe/pass': (call) => ({
          status: 203,
          headers: { 'x-from-orthanc': 'yes', 'content-type': 'text/plain' },
          body: `orthanc saw ${call.uri}`,
        }),
        'POST /probe/pass': (call) => ({ status: 201, json: { Got: call.body.toString(), Type: call.headers['content-type'] } }),
      },
    });
  });
  after(() => recipe.close());

  it('answers an undeclared method with 405, Allow listing exactly what is served, and the JSON error shape; the callback never runs', async () => {
    calls = 0;
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'PATCH']) {
      const answer = await recipe.request({ method, path: '/probe/get?x=1' });
      assert.equal(answer.status, 405, method);
      assert.equal(answer.headers.allow, 'GET', method);
      if (method === 'HEAD') continue; // no body to a HEAD
      assert.deepEqual(JSON.parse(answer.body.toString()), {
        HttpError: 'Method Not Allowed',
        HttpStatus: 405,
        Message: `${method} is not served here; this route serves GET`,
        Method: method,
        Uri: '/probe/get',
        Code: 'method-not-allowed',
      });
    }
    assert.equal(calls, 0);
    assert.equal((await recipe.request('GET /probe/get')).status, 200);
    assert.equal(calls, 1);
  });

  it('refuses the method before reading the body: a body over the route limit still gets 405, not 413', async () => {
    const answer = await recipe.request({ method: 'POST', path: '/probe/get', body: Buffer.alloc(100_000) });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.allow, 'GET');
  });

  it('serves HEAD only where declared, and Allow says so', async () => {
    const head = await recipe.request({ method: 'HEAD', path: '/probe/get-head' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], '7');
    const post = await recipe.request({ method: 'POST', path: '/probe/get-head' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET,HEAD');
  });

  it('leaves every method to a route that declares none (the behaviour external recipes rely on)', async () => {
    for (const method of ['GET', 'POST', 'DELETE', 'PROPFIND']) {
      const answer = await recipe.request({ method, path: '/probe/any' });
      assert.equal(answer.status, 200, method);
      assert.equal(answer.body.toString(), method);
    }
  });

  it('answers a RecipeHttpError with its status, code, message and details; details never override the shape', async () => {
    const answer = await recipe.request('GET /probe/recipe-error?q=1');
    assert.equal(answer.status, 422);
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(answer.body.toString()), {
      HttpError: 'Unprocessable Entity',
      HttpStatus: 422,
      Message: 'what went wrong',
      Method: 'GET',
      Uri: '/probe/recipe-error',
      Code: 'custom-code',
      Field: 'x',
    });
  });

  it("answers an OrthancHttpError the handler lets through with Orthanc's status, Message, OrthancStatus and OrthancError", async () => {
    const notFound = await recipe.request('GET /probe/orthanc-error');
    assert.equal(notFound.status, 404);
    assert.deepEqual(JSON.parse(notFound.body.toString()), {
      HttpError: 'Not Found',
      HttpStatus: 404,
      Message: 'Unknown resource',
      Method: 'GET',
      Uri: '/probe/orthanc-error',
      OrthancError: 'Unknown resource',
      OrthancStatus: 17,
      Code: 'orthanc-error',
    });
    const failing = await recipe.request('GET /probe/orthanc-error?which=failing');
    assert.equal(failing.status, 500);
    const body = JSON.parse(failing.body.toString());
    assert.deepEqual(
      [body.OrthancStatus, body.OrthancError, body.Message, body.Details, body.Code],
      [11, 'Database error', 'Database error', 'disk full', 'orthanc-error'],
    );
    // Orthanc sends no body for some errors: the status stays Orthanc's, without its fields.
    const bare = JSON.parse((await recipe.request('GET /probe/orthanc-error?which=bare')).body.toString());
    assert.equal(bare.HttpStatus, 404);
    assert.equal(bare.OrthancStatus, undefined);
  });

  it('answers an unknown error with a generic 500 (nothing of it in the answer), and logs it', async () => {
    const answer = await recipe.request('GET /probe/unknown-error');
    assert.equal(answer.status, 500);
    const body = JSON.parse(answer.body.toString());
    assert.equal(body.Code, 'internal-error');
    assert.doesNotMatch(answer.body.toString(), /secret|var\/lib/);
    assert.ok(
      recipe.log.lines.some((line) => line.includes('secret internal detail')),
      'the error is in the host log',
    );
  });

  it("passThrough(): Orthanc's answer (status, headers, body) for the request as it came, every query argument in order, the caller's credentials", async () => {
    const query = '?a=1&b=2&a=3&empty=&a=%2F';
    const authorization = basicAuth('caller', 'caller-pw');
    const answer = await recipe.request({ path: `/probe/pass${query}`, headers: { authorization } });
    assert.equal(answer.status, 203);
    assert.equal(answer.headers['x-from-orthanc'], 'yes');
    assert.equal(answer.headers['x-dropped'], undefined, 'headers set before the pass-through are not sent');
    assert.equal(answer.body.toString(), `orthanc saw /probe/pass${query}`);
    const seen = recipe.orthanc.callsTo('GET', '/probe/pass').at(-1)!;
    assert.equal(seen.uri, `/probe/pass${query}`);
    assert.equal(seen.headers.authorization, authorization, "the caller's credentials, not the host's");
    assert.match(String(seen.headers['x-forwarded-for']), /127\.0\.0\.1/);
  });

  it('passThrough(): a POST with its body (read by the route already) reaches Orthanc whole', async () => {
    const answer = await recipe.request({ method: 'POST', path: '/probe/pass', body: { Level: 'Study', Query: {} } });
    assert.equal(answer.status, 201);
    assert.deepEqual(JSON.parse(answer.body.toString()), { Got: '{"Level":"Study","Query":{}}', Type: 'application/json' });
  });

  it('passThrough() after an answer throws ORC_ERR_ALREADY_ANSWERED (the first answer stands)', async () => {
    const answer = await recipe.request('GET /probe/late-pass');
    assert.equal(answer.body.toString(), 'first');
    assert.equal(recipe.orthanc.callsTo('GET', '/probe/late-pass').length, 0);
  });
});

describe('recipe routes: the pieces', () => {
  it('RestRouter checks declared methods: upper-case tokens, at least one', () => {
    const router = new RestRouter();
    for (const methods of [[], ['get'], ['GET', 'PO ST'], 'GET' as unknown as string[]]) {
      assert.throws(
        () => router.register('r', `/x${router.routes.length}`, () => undefined, { methods }),
        (error: unknown) => error instanceof BindingError && error.code === 'ORC_ERR_BAD_ROUTE',
        JSON.stringify(methods),
      );
    }
    router.register('r', '/a', () => undefined, { methods: ['GET', 'POST', 'GET'] });
    router.register('r', '/b', () => undefined);
    const [a, b] = router.routes;
    assert.equal(allowHeader(a!), 'GET,POST');
    assert.ok(servesMethod(a!, 'POST') && !servesMethod(a!, 'HEAD'));
    assert.equal(allowHeader(b!), undefined);
    assert.ok(servesMethod(b!, 'ANYTHING'));
  });

  it("OrthancHttpError carries Orthanc's OrthancStatus and OrthancError when its body gives them", () => {
    const error = new OrthancHttpError('GET', '/instances/x', 404, orthancNotFound);
    assert.equal(error.orthancStatus, 17);
    assert.equal(error.orthancError, 'Unknown resource');
    const bare = new OrthancHttpError('GET', '/instances/x', 404, '');
    assert.equal(bare.orthancStatus, undefined);
    assert.equal(bare.orthancError, undefined);
    const odd = new OrthancHttpError('GET', '/x', 400, { OrthancStatus: '3' as unknown as number, OrthancError: 3 as unknown as string });
    assert.deepEqual([odd.orthancStatus, odd.orthancError], [undefined, undefined]);
  });

  it('RecipeHttpError takes only 4xx and 5xx', () => {
    assert.throws(() => new RecipeHttpError(200, 'ok', 'fine'), RangeError);
    assert.equal(new RecipeHttpError(409, 'conflict', 'busy').status, 409);
  });

  it("errorBody: Orthanc's fields, Code, details after; no Method/Uri without a request", () => {
    assert.deepEqual(errorBody({ status: 503, code: 'unavailable', message: 'later', details: { Message: 'no', RetryAfter: 5 } }), {
      HttpError: 'Service Unavailable',
      HttpStatus: 503,
      Message: 'later',
      Code: 'unavailable',
      RetryAfter: 5,
    });
    assert.equal(errorBody({ status: 400, code: 'x', message: 'm' }, { method: 'GET', url: '/a/b?secret=1' }).Uri, '/a/b');
  });

  it('output.passThrough() outside the host throws ORC_ERR_NO_PASS_THROUGH', async () => {
    const output = new RestOutput({ once: () => undefined, headersSent: false } as unknown as ServerResponse);
    await assert.rejects(
      output.passThrough(),
      (error: unknown) => error instanceof BindingError && error.code === 'ORC_ERR_NO_PASS_THROUGH',
    );
  });

  it("compareDeclarations: meta.routes' methods must be those setup declared", () => {
    const meta = { routes: ['GET /a', 'GET,HEAD /b', '* /c', 'POST /d', '* /e'], events: [] };
    const registered = {
      routes: ['/a', '/b', '/c', '/d', '/e'],
      events: [],
      methods: { '/a': ['GET'], '/b': ['HEAD', 'GET'], '/d': ['GET'], '/e': ['GET'] },
    };
    assert.deepEqual(
      compareDeclarations(meta, registered).map((m) => m.message),
      ['meta.routes lists POST /d, but setup registered /d serving GET', 'meta.routes lists * /e, but setup registered /e serving GET'],
    );
    // A route that declares no methods checks them itself, as before: meta's text is taken as written.
    assert.deepEqual(compareDeclarations({ routes: ['GET /a'], events: [] }, { routes: ['/a'], events: [], methods: {} }), []);
  });
});

new RecipeTester(probe).run([
  { name: 'RecipeTester sees the 405 too', request: 'DELETE /probe/get', expect: { status: 405, headers: { allow: 'GET' } } },
]);
