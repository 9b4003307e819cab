// Benchmark for issue 21: the hostile-input scenario of test/hostile-recipes.test.ts (malformed and
// oversized requests to every recipe route, pathological metadata finds, a deflate bomb, 24
// concurrent dumps of a 32 MB instance, all at once) against the host before the fix and after,
// side by side. Printed per tree: the worst event-loop delay measured inside the host process
// (perf_hooks.monitorEventLoopDelay), the host's peak RSS over the run, its RSS 5 s later, the
// latency of GET /toto probed meanwhile, and the answers that were 5xx or dropped.
// Usage: npm run bench:hostile [-- --before /path/to/older/tree | --commit <rev>]
// Without --before, the commit where this branch left main (or --commit) is copied to a temporary
// folder with `git archive` and built there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  closeHostileAgent,
  hostileHostConfig,
  MiB,
  runHostileScenario,
  storeHostileFixtures,
  type HostileRun,
} from '../test/helpers/hostile.js';
import { startMeasuredHost } from '../test/helpers/measured-host.js';
import { memoryOf } from '../test/helpers/memory.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';

const { values } = parseArgs({ options: { before: { type: 'string' }, commit: { type: 'string' } } });
const afterRoot = new URL('../../', import.meta.url).pathname;

/** A built copy of this repository at `commit`, sharing this tree's node_modules. */
function buildBefore(commit: string): string {
  const folder = join(
    tmpdir(),
    `orthanc-recipes-before-${execFileSync('git', ['-C', afterRoot, 'rev-parse', '--short', commit]).toString().trim()}`,
  );
  if (!existsSync(join(folder, 'dist', 'host', 'index.js')) && !existsSync(join(folder, 'dist', 'shared', 'host', 'index.js'))) {
    mkdirSync(folder, { recursive: true });
    execFileSync('sh', ['-c', `git -C '${afterRoot}' archive '${commit}' | tar -x -C '${folder}'`]);
    if (!existsSync(join(folder, 'node_modules'))) symlinkSync(join(afterRoot, 'node_modules'), join(folder, 'node_modules'));
    execFileSync(join(afterRoot, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: folder, stdio: 'inherit' });
  }
  return folder;
}

const beforeRoot =
  values.before ?? buildBefore(values.commit ?? execFileSync('git', ['-C', afterRoot, 'merge-base', 'HEAD', 'main']).toString().trim());
const orthanc = await startTestOrthanc();
try {
  const fixtures = await storeHostileFixtures(orthanc, { largeBytes: 32 * MiB, bombBytes: 1024 * MiB });
  const rows: { tree: string; run: HostileRun; settledRss: number }[] = [];
  for (const [tree, root, withoutLimits] of [
    ['before', beforeRoot, true],
    ['after', afterRoot, false],
  ] as const) {
    const host = await startMeasuredHost(hostileHostConfig(orthanc.url, { withoutLimits }), join(root, 'dist'));
    try {
      for (const path of ['/toto', `/instances/${fixtures.instance}/dcmjs`, `/instances/${fixtures.instance}/thumbnail`])
        await (await fetch(`${host.url}${path}`)).arrayBuffer();
      const run = await runHostileScenario(host, fixtures, { bombs: 1, dumps: 24 });
      await sleep(5_000);
      rows.push({ tree, run, settledRss: memoryOf(host.pid).rss });
    } finally {
      await host.stop();
    }
  }
  const failed = (run: HostileRun) =>
    [...run.malformed, ...run.pathological, ...run.bombs, ...run.dumps].filter((o) => o.status === 0 || o.status >= 500).length;
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
  console.log(
    `\nHostile scenario (load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on this machine):\n`,
  );
  console.log(
    '| tree | worst event-loop delay | p99 event-loop delay | GET /toto p99 / max | peak RSS | RSS 5 s later | 5xx or dropped | run time |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const { tree, run } of rows) {
    for (const o of [...run.malformed, ...run.pathological, ...run.bombs, ...run.dumps].filter((x) => x.status === 0 || x.status >= 500)) {
      console.log(`${tree}: ${o.name} → ${o.status} ${o.error ?? JSON.stringify(o.json)?.slice(0, 160)}`);
    }
  }
  for (const { tree, run, settledRss } of rows) {
    console.log(
      `| ${tree} | ${run.host.maxDelayMs.toFixed(0)} ms | ${run.host.p99DelayMs.toFixed(0)} ms | ${run.probe.p99.toFixed(0)} / ${run.probe.max.toFixed(0)} ms | ${mib(run.host.peakRssBytes)} | ${mib(settledRss)} | ${failed(run)} | ${(run.durationMs / 1000).toFixed(1)} s |`,
    );
  }
} finally {
  await closeHostileAgent();
  await orthanc.stop();
}
