import type { Logger, OrthancBinding } from '../../shared/binding/index.js';
import { levelPath, listResources, readOrGone } from '../../shared/orthanc-resources.js';
import type { RecipeQueue } from '../../shared/recipe-queue.js';
import type { Level, MirrorTarget } from './targets.js';

/** A queued piece of work: mirror a resource as Orthanc has it now, or remove it. */
export interface Task {
  action: 'upsert' | 'delete';
  level: Level;
  id: string;
}

/** The resource's JSON as Orthanc gives it now, or undefined when Orthanc no longer has it. */
async function current(orthanc: OrthancBinding, level: Level, id: string): Promise<Record<string, unknown> | undefined> {
  return readOrGone<Record<string, unknown>>(orthanc, `/${level}/${encodeURIComponent(id)}`);
}

/** One target with its own durable queue: a target down holds back only its own work. */
export interface Lane {
  target: MirrorTarget;
  tasks: RecipeQueue;
  counts: { Upserted: number; Deleted: number; Failed: number; CaughtUp: number };
}

export const enqueue = (lane: Lane, task: Task) => lane.tasks.enqueue(JSON.stringify(task));

/** Mirrors the resource as Orthanc has it now: read *then* written, so a replayed task writes the same thing. */
export async function apply(orthanc: OrthancBinding, lane: Lane, task: Task) {
  const body = task.action === 'upsert' ? await current(orthanc, task.level, task.id) : undefined;
  if (body === undefined) {
    await lane.target.remove(task.level, task.id);
    lane.counts.Deleted += 1;
    return;
  }
  await lane.target.upsert(task.level, task.id, body);
  lane.counts.Upserted += 1;
}

/** What happened while the recipe was off: every resource missing or older in the target, every one Orthanc no longer has. */
export async function catchUp(orthanc: Pick<OrthancBinding, 'restApiGetJson'>, lane: Lane, signal: AbortSignal) {
  const mirrored = await lane.target.mirrored();
  for (const [resourceLevel, level] of Object.entries(levelPath) as [keyof typeof levelPath, Level][]) {
    const left = mirrored[level];
    for await (const resource of listResources<{ ID: string; LastUpdate?: string }>(orthanc, resourceLevel, { pageSize: 1000 })) {
      if (signal.aborted) break;
      if (!left.has(resource.ID) || left.get(resource.ID) !== (resource.LastUpdate ?? null)) {
        await enqueue(lane, { action: 'upsert', level, id: resource.ID });
        lane.counts.CaughtUp += 1;
      }
      left.delete(resource.ID);
    }
    if (signal.aborted) return;
    for (const id of left.keys()) {
      await enqueue(lane, { action: 'delete', level, id });
      lane.counts.CaughtUp += 1;
    }
  }
}

/** The catch-up, tried again with a capped back-off until the target answers (or the recipe stops). */
export async function catchUpUntilDone(orthanc: OrthancBinding, lane: Lane, signal: AbortSignal, log: Logger, retrySeconds: number) {
  for (let attempt = 0; !signal.aborted; attempt += 1) {
    try {
      await catchUp(orthanc, lane, signal);
      log.info('catch-up queued', { target: lane.target.name, resources: lane.counts.CaughtUp });
      return;
    } catch (error) {
      const seconds = Math.min(retrySeconds * 2 ** attempt, 300);
      log.warning('catch-up failed; tried again later', {
        target: lane.target.name,
        retrySeconds: seconds,
        error: (error as Error).message,
      });
      await new Promise<void>((done) => {
        const timer = setTimeout(done, seconds * 1000);
        signal.addEventListener('abort', () => (clearTimeout(timer), done()), { once: true });
      });
    }
  }
}
