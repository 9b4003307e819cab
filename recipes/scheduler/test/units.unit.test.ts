import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import { createLogger } from '../../../shared/binding/index.js';
import { eventually } from '../../../test/helpers/changes.js';
import { checkEvery, parseEvery } from '../every.js';
import { TaskError, TaskRunner } from '../runner.js';
import { purgeCutoff } from '../tasks/purge-older-than.js';
import { checkCron, checkTimeZone, createTrigger, nearestCronTime, type Trigger } from '../trigger.js';

const lines: string[] = [];
const log = createLogger('scheduler', { level: 'debug', write: (line) => void lines.push(line.trimEnd()) });
const never = new AbortController().signal;

describe('scheduler: periods, cron and time zones', () => {
  it('reads Every as a whole number and a unit', () => {
    assert.equal(parseEvery('500ms'), 500);
    assert.equal(parseEvery('1s'), 1000);
    assert.equal(parseEvery('5m'), 300_000);
    assert.equal(parseEvery('1h'), 3_600_000);
    for (const bad of ['1', '1.5s', '1 s', 's', '1d', '-1s', '']) assert.equal(parseEvery(bad), undefined, bad);
    assert.equal(checkEvery('100ms'), undefined);
    assert.match(checkEvery('99ms')!, /shorter than 100 ms/);
    assert.equal(checkEvery('596h'), undefined);
    assert.match(checkEvery('597h')!, /longer than 24 days/);
  });

  it('checks cron expressions (with or without seconds) and time zones', () => {
    assert.equal(checkCron('*/10 * * * * *'), undefined);
    assert.equal(checkCron('0 30 2 * * *'), undefined);
    assert.equal(checkCron('30 2 * * 1-5'), undefined);
    assert.match(checkCron('0 0 31 2 *')!, /impossible day of month/);
    assert.match(checkCron('every minute')!, /expected 5 or 6 fields but got 2/);
    assert.equal(checkTimeZone('Europe/Brussels'), undefined);
    assert.equal(checkTimeZone('UTC'), undefined);
    assert.match(checkTimeZone('Europe/Atlantis')!, /not a time zone/);
  });

  it('computes the purge cutoff in UTC, with fractional days', () => {
    const now = new Date('2026-03-10T12:00:00Z');
    assert.equal(purgeCutoff(now, 30, 'StudyDate'), '20260208');
    assert.equal(purgeCutoff(now, 0.5, 'LastUpdate'), '20260310T000000');
    assert.equal(purgeCutoff(now, 0, 'LastUpdate'), '20260310T120000');
  });
});

describe('scheduler: triggers', () => {
  const made: Trigger[] = [];
  afterEach(() => made.splice(0).forEach((trigger) => trigger.destroy()));
  const trigger = (...args: Parameters<typeof createTrigger>) => {
    const created = createTrigger(...args);
    made.push(created);
    return created;
  };

  it('ticks every period, stops on stop() and starts again without a burst', async () => {
    let ticks = 0;
    const every = trigger('t', { Every: '100ms' }, () => void (ticks += 1), log);
    assert.equal(every.nextRun(), undefined);
    every.start();
    const next = every.nextRun()!.getTime() - Date.now();
    assert.ok(next > 0 && next <= 100, String(next));
    await eventually(() => ticks >= 3, 5000, 'three ticks');
    every.stop();
    assert.equal(every.nextRun(), undefined);
    const stopped = ticks;
    await sleep(400);
    assert.equal(ticks, stopped, 'no tick after stop()');
    every.start();
    await sleep(20);
    assert.equal(ticks, stopped, 'the ticks missed while stopped are not replayed');
    await eventually(() => ticks > stopped, 5000, 'ticks after start()');
    every.destroy();
  });

  it('skips to the next period after a blocked event loop instead of catching up', async () => {
    let ticks = 0;
    const every = trigger('t', { Every: '100ms' }, () => void (ticks += 1), log);
    every.start();
    const unblocked = Date.now() + 550;
    while (Date.now() < unblocked); // five periods blocked
    await sleep(30);
    // At most the one late tick, then one per period: never the five missed ones in a burst.
    const allowed = Math.floor((Date.now() - unblocked) / 100) + 2;
    assert.ok(ticks <= allowed, `${ticks} ticks within ${Date.now() - unblocked} ms of the unblocking`);
    every.destroy();
  });

  it("shared: ticks on the cluster's clock, at its multiples of the period, whatever this host's clock says", async () => {
    // The state database's clock runs half a period ahead of this host's (as a heartbeat measured it).
    const cluster = { now: () => Date.now() + 500 };
    const period = 1000;
    const ticks: { dueAt: number; firedAt: number }[] = [];
    const every = trigger('shared', { Every: `${period}ms` }, (dueAt) => ticks.push({ dueAt, firedAt: cluster.now() }), log, cluster);
    every.start();
    // nextRun is shown on this host's clock.
    const untilNext = every.nextRun()!.getTime() - Date.now();
    assert.ok(untilNext > 0 && untilNext <= period, String(untilNext));
    await eventually(() => ticks.length >= 2, 5000, 'two ticks');
    for (const { dueAt, firedAt } of ticks) {
      assert.equal(dueAt % period, 0, 'a multiple of the period on the cluster clock');
      // On this host's clock the tick would come half a period off the cluster's (a timer may be a little late).
      // (A timer may also fire a ms before Date.now() reaches its time: libuv keeps its own clock.)
      assert.ok(firedAt - dueAt > -10 && firedAt - dueAt < 400, `fired ${firedAt - dueAt} ms after its time on the cluster's clock`);
    }
  });

  it("shared: never ticks the same period twice when the cluster's clock steps back at a heartbeat", async () => {
    let offset = 0;
    const cluster = { now: () => Date.now() + offset };
    const due: number[] = [];
    const every = trigger(
      'stepping',
      { Every: '200ms' },
      (dueAt) => {
        due.push(dueAt);
        if (due.length === 1) offset -= 30; // a new measure, 30 ms behind the last one
      },
      log,
      cluster,
    );
    every.start();
    await eventually(() => due.length >= 3, 5000, 'three ticks');
    // A period may be skipped on a starved machine (the trigger never catches up), never repeated.
    const steps = due.slice(1).map((dueAt, n) => dueAt - due[n]!);
    assert.ok(
      steps.every((step) => step > 0 && step % 200 === 0),
      `one tick a period, none repeated: ${steps.join(', ')}`,
    );
  });

  it("shared: a cron tick names the cron time nearest the cluster's clock (a pure search, bounded)", () => {
    const at = (iso: string) => Date.parse(iso);
    const everyFiveMinutes = (time: Date) => time.getUTCSeconds() === 0 && time.getUTCMinutes() % 5 === 0;
    const cases: [string, number, string | undefined][] = [
      // the cluster's now, the limit in seconds, the cron time named
      ['2026-12-05T10:00:00.004Z', 2, '2026-12-05T10:00:00.000Z'],
      ['2026-12-05T09:59:59.700Z', 2, '2026-12-05T10:00:00.000Z'], // this host fired 0.3 s early
      ['2026-12-05T10:01:40.000Z', 101, '2026-12-05T10:00:00.000Z'], // 100 s late, nearer than 10:05
      ['2026-12-05T10:03:00.000Z', 181, '2026-12-05T10:05:00.000Z'], // 2 min early
      ['2026-12-05T10:02:00.000Z', 60, undefined], // none within the limit
    ];
    for (const [now, limit, expected] of cases)
      assert.equal(nearestCronTime(everyFiveMinutes, at(now), limit), expected && at(expected), `${now} within ${limit} s`);
  });

  it("shared: a cron Schedule fires on this host's clock and names the cron time on the cluster's", async () => {
    // Even seconds; the cluster's clock 1.6 s ahead: this host fires for an even second of its own,
    // which the cluster's clock calls 0.4 s before the next even second.
    const cluster = { now: () => Date.now() + 1600 };
    const ticks: { dueAt: number; clusterNow: number }[] = [];
    const cron = trigger('c', { Schedule: '*/2 * * * * *' }, (dueAt) => ticks.push({ dueAt, clusterNow: cluster.now() }), log, cluster);
    cron.start();
    await eventually(() => ticks.length >= 2, 10_000, 'two cron ticks');
    for (const { dueAt, clusterNow } of ticks) {
      assert.equal(dueAt % 2000, 0, `an even second: ${new Date(dueAt).toISOString()}`);
      assert.ok(Math.abs(clusterNow - dueAt) <= 1000, `the cron time nearest the cluster's now (${clusterNow - dueAt} ms)`);
    }
  });

  it('runs a cron Schedule with seconds, in its time zone, and really stops on stop() and destroy()', async () => {
    let ticks = 0;
    const cron = trigger('c', { Schedule: '* * * * * *' }, () => void (ticks += 1), log);
    assert.equal(cron.nextRun(), undefined);
    cron.start();
    assert.ok(cron.nextRun()!.getTime() - Date.now() <= 1000);
    await eventually(() => ticks >= 2, 10_000, 'two cron ticks');
    cron.stop();
    const stopped = ticks;
    await sleep(1500);
    assert.equal(ticks, stopped);
    cron.start();
    await eventually(() => ticks > stopped, 10_000, 'a tick after start()');
    cron.destroy();
    const destroyed = ticks;
    await sleep(1500);
    assert.equal(ticks, destroyed);

    const brussels = trigger('z', { Schedule: '0 30 2 * * *', TimeZone: 'Europe/Brussels' }, () => undefined, log);
    brussels.start();
    // 02:30 in Brussels is 01:30 UTC in winter and 00:30 UTC in summer.
    assert.match(brussels.nextRun()!.toISOString(), /T0[01]:30:00\.000Z$/);
    brussels.destroy();
  });
});

describe('scheduler: runner', () => {
  it('never starts a second run while one is in flight, and counts the skipped ticks', async () => {
    let active = 0;
    let maxActive = 0;
    const runner = new TaskRunner(
      'r',
      async () => {
        maxActive = Math.max(maxActive, (active += 1));
        await sleep(100);
        active -= 1;
        return 'done';
      },
      log,
      never,
    );
    assert.ok(runner.start('Schedule'));
    assert.equal(runner.start('Schedule'), undefined);
    assert.equal(runner.start('Manual'), undefined);
    assert.equal(runner.skippedCount, 2);
    await eventually(() => runner.runCount === 1, 5000, 'the run to end');
    assert.equal(maxActive, 1);
    assert.equal(runner.lastRun?.Outcome, 'Success');
    assert.equal(runner.lastRun?.Result, 'done');
    assert.ok(runner.start('Manual'), 'a new run once the last one ended');
  });

  it('records a failure with its error (and a partial result), and goes on', async () => {
    let calls = 0;
    const runner = new TaskRunner(
      'f',
      async () => {
        calls += 1;
        if (calls === 1) throw new TaskError('1 of 2 deletions failed', { Deleted: ['a'] });
        return { n: 1, big: undefined };
      },
      log,
      never,
    );
    runner.start('Schedule');
    await eventually(() => runner.runCount === 1);
    assert.deepEqual(
      { Outcome: runner.lastRun!.Outcome, Error: runner.lastRun!.Error, Result: runner.lastRun!.Result },
      { Outcome: 'Failure', Error: '1 of 2 deletions failed', Result: { Deleted: ['a'] } },
    );
    assert.equal(runner.failureCount, 1);
    assert.ok(
      lines.some((line) =>
        / scheduler\] task failed task=f trigger=Schedule outcome=Failure durationMs=\d+ error="1 of 2 deletions failed/.test(line),
      ),
    );
    runner.start('Schedule');
    await eventually(() => runner.runCount === 2);
    assert.equal(runner.lastRun!.Outcome, 'Success');
    assert.deepEqual(runner.lastRun!.Result, { n: 1 });
    assert.equal(runner.failureCount, 1);
  });

  it('cancels the run in flight through its AbortSignal, or when the host stops, and waits for it', async () => {
    let sawAbort = false;
    const waitForAbort = async (signal: AbortSignal) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      await sleep(50); // cleaning up
      sawAbort = true;
      signal.throwIfAborted();
    };
    const runner = new TaskRunner('c', waitForAbort, log, never);
    runner.start('Manual');
    await runner.cancel(5000);
    assert.equal(sawAbort, true, 'cancel() waited for the run to finish');
    assert.equal(runner.lastRun!.Outcome, 'Cancelled');
    assert.equal(runner.failureCount, 0);

    const host = new AbortController();
    const second = new TaskRunner('h', waitForAbort, log, host.signal);
    second.start('Schedule');
    host.abort();
    await eventually(() => second.lastRun?.Outcome === 'Cancelled', 5000, 'the cancellation');
  });
});
