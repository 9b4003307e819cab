import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OrthancConnection,
  RestRouter,
  callerCredentials,
  createLogger,
  refuseBodyByLength,
  type RestRequest,
} from '../shared/binding/index.js';
import { serveRecipeRoute } from '../host/recipe-route.js';
import { ByteBudget } from '../shared/byte-budget.js';
import { Pacer } from '../shared/pacer.js';

describe('ByteBudget', () => {
  it('lets reservations in while they fit, then in arrival order as bytes come back', async () => {
    const budget = new ByteBudget(100);
    const order: string[] = [];
    const first = await budget.reserve(60);
    const large = budget.reserve(80).then((release) => (order.push('large'), release));
    const small = budget.reserve(10).then((release) => (order.push('small'), release));
    await sleep(10);
    assert.deepEqual(order, [], 'the small one waits behind the large one (first come, first served)');
    assert.equal(budget.queued, 2);
    first();
    first(); // a second call gives nothing back twice
    (await large)();
    (await small)();
    assert.deepEqual(order, ['large', 'small']);
    assert.equal(budget.inUse, 0);
  });

  it('refuses what can never fit, and forgets a reservation whose signal aborts', async () => {
    const budget = new ByteBudget(100);
    await assert.rejects(budget.reserve(101), RangeError);
    const held = await budget.reserve(90);
    const controller = new AbortController();
    const waiting = budget.reserve(50, controller.signal);
    const behind = budget.reserve(10);
    controller.abort(new Error('client gone'));
    await assert.rejects(waiting, /client gone/);
    (await behind)();
    held();
    assert.equal(budget.inUse, 0);
    assert.equal(budget.queued, 0);
  });
});

describe('Pacer', () => {
  it('lets a timer run while paced CPU work goes on, and never holds the loop much longer than a slice', async () => {
    const pacer = new Pacer(5);
    let worstGapMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
    }, 1);
    const work = async () => {
      for (let step = 0; step < 400; step += 1) {
        await pacer.pace();
        const until = performance.now() + 0.5;
        while (performance.now() < until);
      }
    };
    last = performance.now();
    await Promise.all([work(), work(), work()]); // 600 ms of CPU in all
    clearInterval(ticker);
    assert.ok(pacer.yields >= 50, `the work waited for later turns ${pacer.yields} times`);
    // Without the pacer the timer would wait 600 ms; with it, a slice and a step at a time (plus scheduling noise).
    assert.ok(worstGapMs < 300, `the timer waited ${worstGapMs.toFixed(1)} ms at worst`);
  });
});

describe('per-route body limits (unit, serveRecipeRoute on a Node server)', () => {
  let server: Server;
  let url: string;
  const router = new RestRouter();
  const seen: RestRequest[] = [];
  // Never called: the routes answer without asking Orthanc.
  const connection = new OrthancConnection({ url: 'http://127.0.0.1:9' });

  before(async () => {
    router.register('test', '/json', (output, _uri, request) => (seen.push(request), output.answerJson({ size: request.body.length })));
    router.register('test', '/small', (output, _uri, request) => output.answerJson({ size: request.body.length }), { maxBodyBytes: 10 });
    router.register('test', '/none', (output, _uri, request) => output.answerJson({ get: Object.keys(request.get) }), { maxBodyBytes: 0 });
    assert.throws(() => router.register('test', '/bad', () => undefined, { maxBodyBytes: -1 }), /maxBodyBytes must be an integer/);
    server = createServer((request, response) => {
      const match = router.match(new URL(request.url!, 'http://x').pathname)!;
      void serveRecipeRoute(match.route, match.groups, request.url!, request, response, {
        log: createLogger('test', { level: 'error' }),
        maxBodyBytes: 64 * 2 ** 20,
        connection,
        caller: callerCredentials(request.headers, []),
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await connection.close();
  });

  const post = async (path: string, body: string | Uint8Array | ReadableStream, extra: RequestInit = {}) => {
    const answer = await fetch(`${url}${path}`, {
      method: 'POST',
      body,
      ...extra,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    });
    return { status: answer.status, json: (await answer.json()) as Record<string, unknown> };
  };

  it('defaults to 1 MiB for a route that declares nothing, within the host ceiling', async () => {
    assert.deepEqual(await post('/json', 'x'.repeat(2 ** 20)), { status: 200, json: { size: 2 ** 20 } });
    const over = await post('/json', 'x'.repeat(2 ** 20 + 1));
    assert.equal(over.status, 413);
    assert.equal(over.json.MaxBodyBytes, 2 ** 20);
    assert.match(String(over.json.Message), /request body of 1048577 bytes, larger than this route's limit of 1048576 bytes/);
  });

  it('applies what the route declared, to a chunked body too, and 0 means no body at all', async () => {
    assert.equal((await post('/small', '0123456789')).status, 200);
    assert.equal((await post('/small', '0123456789A')).status, 413);
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('0123456'));
        controller.enqueue(new TextEncoder().encode('789AB'));
        controller.close();
      },
    });
    const answer = await post('/small', chunked);
    assert.equal(answer.status, 413);
    assert.match(String(answer.json.Message), /larger than this route's limit of 10 bytes/);
    assert.equal((await post('/none', 'x')).status, 413);
    assert.equal((await fetch(`${url}/none`)).status, 200);
  });

  it('refuses by the announced length before reading a byte', () => {
    assert.equal(
      refuseBodyByLength({ 'content-length': '11' }, 10),
      "request body of 11 bytes, larger than this route's limit of 10 bytes",
    );
    assert.equal(refuseBodyByLength({ 'content-length': '10' }, 10), undefined);
    assert.equal(refuseBodyByLength({ 'transfer-encoding': 'chunked' }, 0), 'this route takes no request body');
    assert.equal(refuseBodyByLength({}, 0), undefined);
  });

  it('gives query arguments as own keys only: toString is absent unless sent, __proto__ is a key', async () => {
    const answer = await fetch(`${url}/none?__proto__=1&constructor=2`);
    assert.deepEqual(await answer.json(), { get: ['__proto__', 'constructor'] });
    await fetch(`${url}/json?a=1`, { method: 'POST', body: '' });
    const request = seen.at(-1)!;
    assert.equal(Reflect.get(request.get, 'toString'), undefined);
    assert.equal(request.headers.constructor, undefined);
  });
});
