import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rawRequest } from '../../../test/helpers/http.js';

/** Task modules written next to a configuration file, as an administrator would write them. */
export const taskModules: Record<string, string> = {
  // ESM JavaScript: appends one line per run to Options.File.
  'tasks/append.mjs': `
import { appendFile } from 'node:fs/promises';
export default async function append(ctx, options) {
  await appendFile(options.File, new Date().toISOString() + '\\n');
  return { Appended: true };
}
`,
  // ESM JavaScript: shows what ctx and options hold.
  'tasks/echo.mjs': `
export default async (ctx, options) => ({
  Options: options,
  Version: (await ctx.orthanc.getSystem()).Version,
  HasLog: typeof ctx.log.info === 'function',
  HasState: typeof ctx.state.get === 'function',
  SignalIsAbortSignal: ctx.signal instanceof AbortSignal && !ctx.signal.aborted,
  ConfigDirectory: ctx.configDirectory,
});
`,
  // TypeScript, with no package.json above it (so compiled as CommonJS).
  'tasks/echo.ts': `
interface Context { orthanc: { restApiGetJson<T>(uri: string): Promise<T> }; signal: AbortSignal }
interface Statistics { CountStudies: number }
export default async function echo(ctx: Context, options: { Any: string }): Promise<{ Typed: string; CountStudies: number }> {
  const statistics = await ctx.orthanc.restApiGetJson<Statistics>('/statistics');
  return { Typed: options.Any.toUpperCase(), CountStudies: statistics.CountStudies };
}
`,
  // Slow: never returns before 2.5 s; records how many of its runs were ever active at once.
  'tasks/slow.mjs': `
import { setTimeout as sleep } from 'node:timers/promises';
let active = 0, maxActive = 0, runs = 0;
export default async (ctx) => {
  active += 1; runs += 1; maxActive = Math.max(maxActive, active);
  try { await sleep(2500, undefined, { signal: ctx.signal }); } finally { active -= 1; }
  return { MaxActive: maxActive, Runs: runs };
};
`,
  'tasks/fail.mjs': `export default async () => { throw new Error('boom from fail.mjs'); };`,
  // Hangs until its run is cancelled, then takes 300 ms to clean up and writes Options.Marker.
  'tasks/hang.mjs': `
import { writeFileSync } from 'node:fs';
export default (ctx, options) => new Promise((_resolve, reject) => {
  ctx.signal.addEventListener('abort', () => setTimeout(() => { writeFileSync(options.Marker, 'cancelled'); reject(ctx.signal.reason); }, 300));
});
`,
  'tasks/not-a-function.mjs': `export default { run() {} };`,
  'tasks/no-default.mjs': `export const run = async () => 1;`,
  'tasks/syntax-error.ts': `export default async (ctx: ) => ;`,
};

/** A temporary folder holding the task modules; the configuration file goes there too. */
export async function folderWithModules(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-scheduler-'));
  for (const [path, text] of Object.entries(taskModules)) {
    await mkdir(dirname(join(folder, path)), { recursive: true });
    await writeFile(join(folder, path), text);
  }
  return folder;
}

/** JSON of a route of the host. */
export async function call<T = any>(url: string, method = 'GET'): Promise<{ status: number; body: T; headers: Record<string, unknown> }> {
  const answer = await rawRequest(url, { method });
  const text = answer.body.toString('utf8');
  return { status: answer.status, body: (text ? JSON.parse(text) : undefined) as T, headers: answer.headers };
}

export interface TaskView {
  Name: string;
  NextRun: string | null;
  Running: { Start: string; Trigger: string } | null;
  RunCount: number;
  FailureCount: number;
  SkippedCount: number;
  LastRun: { Start: string; DurationMs: number; Outcome: string; Error?: string; Result?: any; Trigger: string } | null;
}

/** One task as `GET /recipes/scheduler/tasks/{name}` shows it. */
export async function taskView(hostUrl: string, name: string): Promise<TaskView> {
  const { status, body } = await call<TaskView>(`${hostUrl}/recipes/scheduler/tasks/${name}`);
  if (status !== 200) throw new Error(`GET task ${name}: HTTP ${status}`);
  return body;
}
