import { setTimeout as sleep } from 'node:timers/promises';
import { changeTypeFromOrthanc, changeTypeName, resourceTypeFromOrthanc, resourceTypeName } from '../../shared/binding/index.js';
import { levelPath } from '../../shared/orthanc-resources.js';
import type { TestOrthanc } from './orthanc.js';

/** Orthanc's own /changes after `since`, written as hello logs them: `NEW_INSTANCE INSTANCE <id>`. */
export async function orthancChangeLines(orthanc: TestOrthanc, since: number): Promise<string[]> {
  const lines: string[] = [];
  for (let done = false; !done;) {
    const page = await orthanc.json('GET', `/changes?since=${since}&limit=500`);
    for (const change of page.Changes as { ChangeType: string; ResourceType: string; ID: string }[]) {
      lines.push(
        `${changeTypeName(changeTypeFromOrthanc[change.ChangeType]!)} ${resourceTypeName(resourceTypeFromOrthanc[change.ResourceType]!)} ${change.ID}`,
      );
    }
    since = page.Last;
    done = page.Done;
  }
  return lines;
}

/** Waits until every patient, study and series is stable, so that /changes stops growing. */
export async function waitUntilStable(orthanc: TestOrthanc, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const levels = await Promise.all(
      (['Patient', 'Study', 'Series'] as const).map((level) => orthanc.json('GET', `/${levelPath[level]}?expand`)),
    );
    if (levels.every((resources: { IsStable: boolean }[]) => resources.every((r) => r.IsStable))) return;
    await sleep(250);
  }
  throw new Error('Orthanc did not report every resource as stable in time');
}

/** Polls `condition` until it holds. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
