import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { eventually } from './helpers/changes.js';
import { killOrthanc, startTestCluster, type TestCluster } from './helpers/cluster.js';
import type { HostProcess } from './helpers/host.js';

/**
 * Two hosts, each beside one of two Orthancs on one PostgreSQL index, share the work through
 * their PostgreSQL state: a study routed once, a task run once per period, and the loss of a host,
 * an Orthanc or PostgreSQL itself costs nothing but the duplicates the status counts.
 */

// The scheduler's task: one line per run, the period it ran for. Ticks fall on whole seconds of
// the cluster's clock (PostgreSQL's, as each host reckons it), a few ms off a host's own, and the
// run starts just after its tick.
const markTask = `
import { appendFile } from 'node:fs/promises';
export default async (ctx, options) => {
  await appendFile(options.File, Math.floor((ctx.cluster.now() + 250) / 1000) + ' ' + ctx.cluster.hostId + '\\n');
};
`;

// Run now only (its period, a day, never falls during the test): a start and an end line per run.
const slowTask = `
import { appendFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
export default async (ctx, options) => {
  await appendFile(options.File, 'start ' + ctx.cluster.hostId + ' ' + Date.now() + '\\n');
  await sleep(1500, undefined, { signal: ctx.signal }).catch(() => undefined);
  await appendFile(options.File, 'end ' + ctx.cluster.hostId + ' ' + Date.now() + '\\n');
};
`;

let cluster: TestCluster;
let slowFile = '';
let runsFile = '';
const expected = new Set<string>();

async function json(host: HostProcess, uri: string): Promise<any> {
  const answer = await fetch(`${host.url}${uri}`);
  if (!answer.ok) throw new Error(`${uri}: HTTP ${answer.status} ${await answer.text()}`);
  return answer.json();
}

const liveHost = () => cluster.hosts.find((host) => host && host.child.exitCode === null && host.child.signalCode === null)!;

/**
 * A duplicate is counted by the status (a route retried after a takeover, a job interrupted by
 * its Orthanc going away, a job that failed part-way and was sent again whole) or it is a defect.
 */
function checkDuplicates(duplicates: number, allowed: number, what: string): void {
  assert.ok(duplicates <= allowed, `${duplicates} instance(s) received twice, ${allowed} allowed by the counters (${what})`);
}

async function everythingDeliveredOnce(timeoutMs = 120_000): Promise<{ duplicates: number; retried: number }> {
  await eventually(
    async () => {
      const received = new Set(await cluster.destination.receptions());
      return [...expected].every((sop) => received.has(sop));
    },
    timeoutMs,
    `${expected.size} instances at storescp`,
  );
  const counts = new Map<string, number>();
  for (const sop of await cluster.destination.receptions()) counts.set(sop, (counts.get(sop) ?? 0) + 1);
  // Receptions beyond the first of each instance.
  const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
  if (duplicates > 0) {
    // Which studies came twice, by Orthanc ID, to find them in the hosts' logs.
    const twice = [...counts]
      .filter(([, n]) => n > 1)
      .map(([sop]) => sop)
      .slice(0, 6);
    const studies = [];
    for (const sop of twice) {
      const found = await fetch(`${cluster.orthancs[0]!.url}/tools/lookup`, { method: 'POST', body: sop })
        .then((answer) => answer.json())
        .catch(() => []);
      studies.push(...(found as { Type: string; Path: string }[]).map((f) => f.Path));
    }
    console.log(`received twice: ${twice.join(', ')} (${studies.join(', ')})`);
  }
  const status = await json(liveHost(), '/recipes/autorouting/status');
  assert.equal(status.Routes.Failed, 0);
  return { duplicates, retried: status.RetriedAfterTakeover + status.InterruptedByOrthancOutage + status.RetriedAfterPartialFailure };
}

async function uploadMany(count: number, label: string): Promise<void> {
  for (let n = 0; n < count; n += 1) for (const sop of await cluster.upload(n % 2, `${label}-${n}`)) expected.add(sop);
}

const host = (n: number) => cluster.hosts[n]!;
const alive = (n: number) => cluster.hosts[n]?.child.exitCode === null && cluster.hosts[n]?.child.signalCode === null;

/** Each test starts with both hosts running (a failed test may have left one killed). */
async function bothHostsRunning(): Promise<void> {
  for (const n of [0, 1]) if (!alive(n)) await cluster.startHost(n);
}

describe('several hosts, one cluster: state in PostgreSQL', { timeout: 600_000 }, () => {
  before(async () => {
    cluster = await startTestCluster({
      orthancs: 2,
      hostConfig: (_n, folder) => {
        runsFile = join(folder, 'runs.log');
        slowFile = join(folder, 'slow.log');
        return {
          Recipes: {
            autorouting: {
              Enabled: true,
              Rules: [{ Level: 'Study', Filter: {}, Destinations: ['scp'] }],
              SweepIntervalSeconds: 5,
              ClusterSweepMinimumAgeSeconds: 5,
              Retry: { InitialDelaySeconds: 1, MaxDelaySeconds: 2, MaxAttempts: 100 },
            },
            scheduler: {
              Enabled: true,
              Tasks: [
                { Name: 'mark', Every: '1s', Module: '../tasks/mark.mjs', Options: { File: runsFile } },
                { Name: 'slow', Every: '24h', Module: '../tasks/slow.mjs', Options: { File: slowFile } },
              ],
            },
          },
        };
      },
    });
    const tasks = join(cluster.orthancs[0]!.options.storageDirectory, '..', 'tasks');
    await mkdir(tasks, { recursive: true });
    await writeFile(join(tasks, 'mark.mjs'), markTask);
    await writeFile(join(tasks, 'slow.mjs'), slowTask);
    await Promise.all([cluster.startHost(0), cluster.startHost(1)]);
  });
  beforeEach(async () => {
    await bothHostsRunning();
  });
  after(async () => {
    // Keeps the hosts' logs where a failing run can be read: CLUSTER_TEST_LOGS=folder.
    const logs = process.env.CLUSTER_TEST_LOGS;
    if (logs) for (const [n, h] of cluster.hosts.entries()) if (h) await writeFile(join(logs, `host-${n}.log`), h.log.lines.join('\n'));
    await cluster?.dispose();
  });

  it('routes 60 studies arriving through both Orthancs: every instance delivered, none twice, the work shared', async () => {
    await uploadMany(60, 'first');
    const { duplicates, retried } = await everythingDeliveredOnce();
    assert.equal(retried, 0, 'nothing sent again');
    checkDuplicates(duplicates, 0, 'no instance should be received twice');
    // storescp may have the last study before its host has read its job's success and logged it.
    const sentLines = () =>
      [0, 1].map(
        (n) =>
          host(n)
            .log.messages('autorouting')
            .filter((line) => line.startsWith('sent study=')).length,
      );
    let sent = sentLines();
    await eventually(() => ((sent = sentLines()), sent[0]! + sent[1]! >= 60), 30_000, '60 "sent study" lines');
    assert.equal((await json(host(0), '/recipes/autorouting/status')).Routes.Succeeded, 60);
    assert.equal(sent[0]! + sent[1]!, 60, `each study sent once (${sent.join(' + ')})`);
    assert.ok(sent[0]! > 0 && sent[1]! > 0, `both hosts sent studies (${sent.join(' + ')})`);

    const recipes = await json(host(0), '/recipes');
    assert.equal(recipes.Cluster.Engine, 'PostgreSQL');
    assert.deepEqual(recipes.Cluster.Hosts.filter((h: { Alive: boolean }) => h.Alive).length, 2);
    assert.ok(recipes.Cluster.Hosts.every((h: { Activity: Record<string, unknown> }) => 'autorouting' in h.Activity));
  });

  it('goes on when a host is SIGKILLed in the middle, then the other: all delivered, duplicates only as counted', async () => {
    const before = (await cluster.destination.receptions()).length;
    const uploading = uploadMany(20, 'kill-hosts');
    await eventually(async () => (await cluster.destination.receptions()).length >= before + 6, 60_000, 'routing under way');
    await host(0).stop('SIGKILL');
    await uploading;
    await eventually(async () => (await cluster.destination.receptions()).length >= before + 20, 60_000, 'routing goes on with one host');
    await cluster.startHost(0);
    await host(1).stop('SIGKILL');
    await uploadMany(6, 'kill-hosts-then');
    const { duplicates, retried } = await everythingDeliveredOnce();
    // A study of two instances sent again arrives as two duplicates.
    checkDuplicates(duplicates, retried * 2, `${retried} route(s) counted as retried after a takeover`);
    await cluster.startHost(1);
  });

  it('routes studies left unstable by an Orthanc SIGKILLed', async () => {
    for (let n = 0; n < 4; n += 1) for (const sop of await cluster.upload(1, `unstable-${n}`)) expected.add(sop);
    killOrthanc(cluster.orthancs[1]!);
    await cluster.orthancs[1]!.restart();
    const { duplicates, retried } = await everythingDeliveredOnce();
    checkDuplicates(duplicates, retried * 2, `${retried} counted`);
  });

  it('survives PostgreSQL restarting: all delivered, duplicates only as counted', async () => {
    const before = (await cluster.destination.receptions()).length;
    await uploadMany(10, 'postgres');
    await eventually(async () => (await cluster.destination.receptions()).length > before, 60_000, 'routing under way');
    await cluster.postgres.stop();
    try {
      const notices = (n: number) =>
        host(n).log.lines.some((line) => /state database|PostgreSQL connection broke|heartbeat failed/.test(line));
      await eventually(() => notices(0) || notices(1), 30_000, 'a host notices');
    } finally {
      await cluster.postgres.start();
    }
    await uploadMany(4, 'postgres-after');
    const { duplicates, retried } = await everythingDeliveredOnce(180_000);
    checkDuplicates(duplicates, retried * 2, `${retried} counted`);
  });

  it('follows, on the Orthanc of the host it takes a route over from, the job that host recorded, instead of sending again', async () => {
    const sql = (text: string) => cluster.postgres.psql(text, 'orthanc');
    // Two routes of its own that succeeded, whatever ran before.
    await uploadMany(2, 'follow');
    await everythingDeliveredOnce();
    const succeeded = async () =>
      (await sql(`SELECT resource_id FROM orthanc_recipes.r_autorouting__routes WHERE state = 'succeeded' ORDER BY resource_id LIMIT 2`))
        .trim()
        .split('\n')
        .filter(Boolean);
    await eventually(async () => (await succeeded()).length === 2, 30_000, 'two succeeded routes');
    const [followed, resent] = await succeeded();
    assert.ok(followed && resent);
    // A job that sends nothing (an archive), accepted by Orthanc 0 for a host that then died.
    const job = (await (
      await fetch(`${cluster.orthancs[0]!.url}/studies/${followed}/archive`, {
        method: 'POST',
        body: JSON.stringify({ Asynchronous: true }),
      })
    ).json()) as { ID: string };
    await sql(
      `INSERT INTO orthanc_recipes.hosts (host_id, name, orthanc_url, started_at, heartbeat_at) VALUES ('dead-host', 'dead', '${cluster.orthancs[0]!.url}', 0, 0)`,
    );
    const before = await cluster.destination.receptions();
    await sql(
      `UPDATE orthanc_recipes.r_autorouting__routes SET state = 'sending', holder = 'dead-host', lease_until = 0, job_id = CASE resource_id WHEN '${followed}' THEN '${job.ID}' ELSE 'a-job-orthanc-forgot' END WHERE resource_id IN ('${followed}', '${resent}')`,
    );
    // (taken_from says who the route was last taken from only until its new holder claims it again.)
    const row = async (id: string) =>
      (await sql(`SELECT state || ' ' || takeovers FROM orthanc_recipes.r_autorouting__routes WHERE resource_id = '${id}'`)).trim();
    await eventually(
      async () => (await row(followed)) === 'succeeded 0',
      30_000,
      'the route whose job Orthanc 0 knows succeeds without sending',
    );
    // The one whose job Orthanc 0 does not know is sent again, and counted.
    await eventually(async () => (await row(resent)) === 'succeeded 1', 30_000, 'the other route is sent again and counted').catch(
      async (error: Error) => {
        throw new Error(`${error.message}: ${await row(resent)}`);
      },
    );
    const { duplicates, retried } = await everythingDeliveredOnce();
    checkDuplicates(duplicates, retried * 2, `${retried} counted`);
    assert.equal(
      (await cluster.destination.receptions()).length,
      before.length + 2,
      'only the study whose job was unknown arrived again (two instances)',
    );
    assert.ok(
      cluster.hosts.some((h) =>
        h?.log
          .messages('autorouting')
          .some((line) => line.startsWith('route taken over; its job followed') && line.includes(`jobId=${job.ID}`)),
      ),
    );
  });

  it('runs a task asked to run now on both hosts at once on one of them: the other answers 409, it runs elsewhere', async () => {
    const runNow = (n: number) =>
      fetch(`${host(n).url}/recipes/scheduler/tasks/slow/run`, { method: 'POST' }).then(async (answer) => ({
        status: answer.status,
        body: (await answer.json()) as { Message?: string; RunningElsewhere?: boolean; Running?: { Trigger: string } | null },
      }));
    const lines = async () =>
      (await readFile(slowFile, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' '));
    const answers = await Promise.all([runNow(0), runNow(1)]);
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [202, 409], JSON.stringify(answers));
    const refused = answers.find((answer) => answer.status === 409)!.body;
    assert.equal(refused.RunningElsewhere, true);
    assert.match(refused.Message ?? '', /already running on another host/);
    // While it runs, the host that refused refuses again; the one that runs it answers as one host does.
    const ran = answers.findIndex((answer) => answer.status === 202);
    assert.equal((await runNow(1 - ran)).status, 409);
    const again = await runNow(ran);
    assert.equal(again.status, 409);
    assert.equal(again.body.Running?.Trigger, 'Manual');
    await eventually(async () => (await lines()).some(([what]) => what === 'end'), 30_000, 'the run ends');
    // Once it ended, the other host may run it.
    await eventually(async () => (await runNow(1 - ran)).status === 202, 10_000, 'the other host runs it');
    await eventually(async () => (await lines()).filter(([what]) => what === 'end').length === 2, 30_000, 'the second run ends');
    const runs = await lines();
    assert.deepEqual(
      runs.map(([what]) => what),
      ['start', 'end', 'start', 'end'],
      'one run at a time across the cluster',
    );
    assert.notEqual(runs[0]![1], runs[2]![1], 'one run on each host');
  });

  it('runs a task every second once per period across both hosts, and goes on when one dies', async () => {
    const periods = async () =>
      (await readFile(runsFile, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' '));
    const seen = (await periods()).length;
    await eventually(async () => (await periods()).length >= seen + 3, 30_000, 'three more runs');
    const killedAt = Math.floor(Date.now() / 1000);
    await host(0).stop('SIGKILL');
    await eventually(
      async () => (await periods()).filter(([period]) => Number(period) > killedAt + 1).length >= 3,
      30_000,
      'runs after a host died',
    );
    const all = await periods();
    const byPeriod = new Map<string, number>();
    for (const [period] of all) byPeriod.set(period!, (byPeriod.get(period!) ?? 0) + 1);
    assert.deepEqual(
      [...byPeriod].filter(([, n]) => n > 1),
      [],
      'no period ran twice',
    );
    const hosts = new Set(all.map(([, hostId]) => hostId));
    assert.equal(hosts.size, 2, 'both hosts ran the task at some point');
  });
});
