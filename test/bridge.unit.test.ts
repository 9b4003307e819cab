import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bridgeNeeds, bridgeScript, scriptHooks, type BridgeNeeds } from '../host/bridge-script.js';
import receiveFilter from '../recipes/receive-filter/index.js';
import { BridgeHooks, createLogger } from '../shared/binding/index.js';
import { defineRecipe, type AnyRecipe } from '../shared/recipe.js';
import { compileSchema } from '../shared/validate.js';

const options = { url: 'http://127.0.0.1:8044/', secret: 'abc', timeoutSeconds: 2, whenHostDown: {} };
const needs = (hooks: BridgeNeeds['hooks'] extends ReadonlySet<infer H> ? H[] : never, deletions = false): BridgeNeeds => ({
  hooks: new Set(hooks),
  deletions,
});
const lines = (script: string) => script.split('\n').map((line) => line.trim());

describe('the bridge script', () => {
  it('refuses a C-STORE with a Lua error (answered 0xA700) and never defines ReceivedCStoreInstanceFilter', () => {
    const script = bridgeScript(needs(['ReceivedInstanceFilter', 'ReceivedCStoreInstanceFilter']), options);
    assert.ok(
      lines(script).includes("if cstore and not keep then error('orthanc-recipes bridge: C-STORE refused, answered 0xA700', 0) end"),
    );
    assert.ok(!/function ReceivedCStoreInstanceFilter/.test(script), 'Lua reads its status as a yes/no: 0xA700 would store the instance');
    assert.ok(!/Incoming(Find|Worklist)RequestFilter/.test(script));
  });

  it('names the hooks it defines in a header of every call, sorted, deletions as OnDeleted', () => {
    const both = needs(['IncomingFindRequestFilter', 'ReceivedInstanceFilter'], true);
    assert.equal(scriptHooks(both), 'IncomingFindRequestFilter,OnDeleted,ReceivedInstanceFilter');
    assert.equal(scriptHooks(needs([])), '');
    assert.ok(
      lines(bridgeScript(both, options)).includes(
        "['x-orthanc-recipes-bridge-hooks'] = 'IncomingFindRequestFilter,OnDeleted,ReceivedInstanceFilter',",
      ),
    );
  });

  it('defines a C-FIND filter only for the hooks asked, with its host-down policy', () => {
    const accept = bridgeScript(needs(['IncomingFindRequestFilter']), options);
    assert.match(
      accept,
      /function IncomingFindRequestFilter\(query, origin\)\n {2}local answer = callHost\('find-request', \{ query = query, origin = origin \}\)\n {2}if answer == nil then\n {4}return query\n/,
    );
    assert.ok(lines(accept).includes("if answer == 'refuse' then error('orthanc-recipes bridge: C-FIND refused', 0) end"));
    assert.ok(!/ReceivedInstanceFilter|IncomingWorklistRequestFilter/.test(accept));

    const reject = bridgeScript(needs(['IncomingWorklistRequestFilter']), {
      ...options,
      whenHostDown: { IncomingWorklistRequestFilter: 'Reject' },
    });
    assert.ok(lines(reject).includes("error('orthanc-recipes bridge: no answer from the host, worklist C-FIND refused', 0)"));
    assert.match(reject, /callHost\('worklist-request'/);
  });

  it('applies each received-instance policy to its own origin', () => {
    const script = bridgeScript(needs(['ReceivedInstanceFilter']), {
      ...options,
      whenHostDown: { ReceivedCStoreInstanceFilter: 'Reject' },
    });
    assert.ok(lines(script).includes('if cstore then keep = false else keep = true end'));
  });
});

describe('C-FIND filters in BridgeHooks', () => {
  const log = createLogger('test', { level: 'error', write: () => undefined });
  const origin = { RemoteAet: 'VIEWER', CalledAet: 'ORTHANC', RemoteIp: '127.0.0.1', Manufacturer: 'Generic' };

  it('chains the filters in order and refuses on null, a throw or a malformed answer', async () => {
    const hooks = new BridgeHooks(log);
    const seen: unknown[] = [];
    hooks.addIncomingFindRequestFilter('a', (query, from) => (seen.push(from), { ...query, '0008,0080': 'NORTH*' }));
    hooks.addIncomingFindRequestFilter('b', (query) => ({
      ...query,
      '0010,0020': query['0008,0080'] === 'NORTH*' ? 'chained' : 'not chained',
    }));
    assert.deepEqual(await hooks.filterFindRequest({ query: { '0008,0052': 'STUDY' }, origin }), {
      '0008,0052': 'STUDY',
      '0008,0080': 'NORTH*',
      '0010,0020': 'chained',
    });
    assert.deepEqual(seen, [{ remoteAet: 'VIEWER', calledAet: 'ORTHANC', remoteIp: '127.0.0.1', manufacturer: 'Generic' }]);

    for (const answer of [
      () => null,
      () => {
        throw new Error('boom');
      },
      () => ({ '0010,0020': 42 }) as never,
      () => [] as never,
    ]) {
      const refusing = new BridgeHooks(log);
      refusing.addIncomingFindRequestFilter('c', answer);
      assert.equal(await refusing.filterFindRequest({ query: { '0008,0052': 'STUDY' }, origin }), null);
    }
  });

  it('reads an empty Lua table ([]) as an empty query, and refuses a query that is not a map', async () => {
    const hooks = new BridgeHooks(log);
    hooks.addIncomingWorklistRequestFilter('w', (query) => ({ ...query, '0010,0020': 'WL2' }));
    assert.deepEqual(await hooks.filterWorklistRequest({ query: [], origin }), { '0010,0020': 'WL2' });
    assert.deepEqual(await hooks.filterWorklistRequest({ query: { '0040,0100': [{ '0008,0060': '' }] }, origin }), {
      '0040,0100': [{ '0008,0060': '' }],
      '0010,0020': 'WL2',
    });
    assert.equal(await hooks.filterWorklistRequest({ query: 'nope', origin }), null);
    assert.equal(await hooks.filterFindRequest({ query: { '0008,0052': ['STUDY'] } }), null);
  });
});

describe('which hooks the script defines (bridgeNeeds)', () => {
  /** receive-filter as the host enables it: its options validated, with their defaults. */
  const receiveFilterWith = (options: Record<string, unknown>) => {
    const withDefaults = structuredClone(options);
    assert.ok(compileSchema(receiveFilter.schema)(withDefaults));
    return { recipe: receiveFilter as AnyRecipe, options: withDefaults };
  };
  const hooksOf = (...enabled: { recipe: AnyRecipe; options: Record<string, unknown> }[]) => [...bridgeNeeds(enabled).hooks].sort();
  const rule = { Action: 'Reject', Filter: { Modality: 'OT' } };
  const restriction = { RemoteAET: 'WARD*', Filter: { InstitutionName: 'NORTH' } };

  it("asks Orthanc only for the hooks receive-filter's options use: no C-FIND call without FindRestrictions", () => {
    assert.deepEqual(hooksOf(receiveFilterWith({})), []);
    assert.deepEqual(hooksOf(receiveFilterWith({ Rules: [rule] })), ['ReceivedCStoreInstanceFilter', 'ReceivedInstanceFilter']);
    assert.deepEqual(hooksOf(receiveFilterWith({ Quota: { MaxInstancesPerRemoteAet: 10 } })), [
      'ReceivedCStoreInstanceFilter',
      'ReceivedInstanceFilter',
    ]);
    assert.deepEqual(hooksOf(receiveFilterWith({ FindRestrictions: [restriction] })), ['IncomingFindRequestFilter']);
  });

  it('takes every declared hook of a recipe without bridgeHooks, and never one it did not declare', () => {
    const meta = { ...receiveFilter.meta, id: 'declared', bridge: ['IncomingWorklistRequestFilter' as const] };
    const declaredOnly = defineRecipe({ meta, schema: {}, setup: () => ({}) }) as AnyRecipe;
    const overreaching = defineRecipe({ meta, schema: {}, bridgeHooks: () => ['ReceivedInstanceFilter'], setup: () => ({}) }) as AnyRecipe;
    assert.deepEqual(hooksOf({ recipe: declaredOnly, options: {} }), ['IncomingWorklistRequestFilter']);
    assert.deepEqual(hooksOf({ recipe: overreaching, options: {} }), []);
  });
});
