import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { generateStudy } from '../../../test/helpers/dicom.js';
import type { TestOrthanc } from '../../../test/helpers/orthanc.js';

import { levelPath } from '../../../shared/orthanc-resources.js';

export { levelPath };
export const levels = ['Patient', 'Study', 'Series', 'Instance'] as const;
export type Level = (typeof levels)[number];

/** `UserMetadata` of the test Orthanc. */
export const userMetadata = { Reviewer: 1024, Score: 1025 };

/** Reviewer values, set on resources of every level (a few resources per level keep none). */
export const reviewers = ['alice', 'Alice', 'ALICE', 'bob', 'a/b', 'Éric', 'éric', 'eric', '', 'x*y', 'al\\ice'];

/**
 * Fills an Orthanc with studies stored over REST in two waves a second apart (so LastUpdate and
 * ReceptionDate differ), studies sent by storescu under two AETs (RemoteAET at the series and
 * instance levels), and Reviewer/Score user metadata on resources of every level.
 */
export async function fillOrthanc(orthanc: TestOrthanc): Promise<void> {
  const studies = (count: number, prefix: string) =>
    Array.from({ length: count }, (_, i) =>
      generateStudy({
        patientId: `${prefix}${i % 3}`,
        patientName: 'Meta^Find',
        studyDate: `2024010${i % 9}`,
        size: 8,
        series: [{ modality: 'CT', instances: 1 + (i % 2) }],
      }),
    );
  for (const study of studies(5, 'MFA')) for (const instance of study) await orthanc.upload(instance.file);
  const second = new Date().getUTCSeconds();
  while (new Date().getUTCSeconds() === second) await sleep(50);
  for (const study of studies(4, 'MFB')) for (const instance of study) await orthanc.upload(instance.file);
  for (const [aet, count] of [
    ['RCP-SCU-ONE', 2],
    ['RCP-SCU-TWO', 1],
  ] as const) {
    for (const [index, study] of studies(count, `MFS${aet.length}`).entries()) {
      const files = await Promise.all(
        study.map(async (instance, i) => {
          const path = join(orthanc.directory, `${aet}-${index}-${i}.dcm`);
          await writeFile(path, instance.file);
          return path;
        }),
      );
      await promisify(execFile)('storescu', [
        '-aet',
        aet,
        '-aec',
        orthanc.process.aet,
        '127.0.0.1',
        String(orthanc.process.dicomPort),
        ...files,
      ]);
    }
  }
  for (const level of levels) {
    const ids: string[] = await orthanc.json('GET', `/${levelPath[level]}`);
    for (const [i, id] of ids.entries()) {
      if (i % 5 === 4) continue; // no Reviewer: a missing metadata
      await putMetadata(orthanc, level, id, 'Reviewer', reviewers[i % reviewers.length]!);
      if (i % 2 === 0) await putMetadata(orthanc, level, id, 'Score', String(i * 7));
    }
  }
}

export async function putMetadata(orthanc: TestOrthanc, level: Level, id: string, name: string, value: string): Promise<void> {
  const answer = await fetch(`${orthanc.url}/${levelPath[level]}/${id}/metadata/${name}`, { method: 'PUT', body: value });
  if (!answer.ok) throw new Error(`PUT metadata ${name}: HTTP ${answer.status}`);
}

/**
 * The brute-force answer: Orthanc's own `/tools/find` for the same body without the metadata
 * fields (its order), then each resource's `/{level}/{id}/metadata?expand`, one by one, tested
 * with `test`; then `Since`/`Limit`.
 */
export async function bruteForce(
  orthanc: TestOrthanc,
  body: { Level: Level; Query?: object; Limit?: number; Since?: number; [field: string]: unknown },
  test: (metadata: Record<string, string>) => boolean,
  /** Metadata already read, by `level/id`, for a test that changes none between its queries. */
  cache?: Map<string, Record<string, string>>,
): Promise<string[]> {
  const { Limit: limit, Since: since = 0, ...rest } = body;
  const ids: string[] = await orthanc.json('POST', '/tools/find', { Query: {}, ...rest, Expand: false });
  const kept: string[] = [];
  for (const id of ids) {
    const key = `${body.Level}/${id}`;
    const metadata: Record<string, string> =
      cache?.get(key) ?? (await orthanc.json('GET', `/${levelPath[body.Level]}/${id}/metadata?expand`));
    cache?.set(key, metadata);
    if (test(metadata)) kept.push(id);
  }
  return limit ? kept.slice(since, since + limit) : kept.slice(since);
}

/** Python's `re.match` for the simple patterns of these tests, by the JavaScript engine. */
export const reMatch = (pattern: string) => {
  const ignoreCase = pattern.startsWith('(?i)');
  const regex = new RegExp(`^(?:${ignoreCase ? pattern.slice(4) : pattern})`, ignoreCase ? 'iu' : 'u');
  return (value: string | undefined) => regex.test(value ?? '');
};

/**
 * DICOM wildcard matching written independently of shared/dicom-match.ts: a list of items, each
 * `*`/`?` turned into a JavaScript regular expression; ASCII letters folded unless case-sensitive;
 * `a-b` ranges for dates when `ranges`.
 */
export const wildcardMatch = (pattern: string, options: { caseSensitive?: boolean; ranges?: boolean } = {}) => {
  const fold = (text: string) => (options.caseSensitive ? text : text.replace(/[a-z]/g, (c) => c.toUpperCase()));
  const items = pattern.split('\\').map((item) => {
    if (options.ranges && item.includes('-')) {
      const [low, high] = item.split('-') as [string, string];
      return (value: string) =>
        value !== '' && (low === '' || value.slice(0, low.length) >= low) && (high === '' || value.slice(0, high.length) <= high);
    }
    const source = [...fold(item)].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
    const regex = new RegExp(`^${source}$`, 'su');
    return (value: string) => regex.test(fold(value));
  });
  return (value: string | undefined) => pattern === '' || items.some((matches) => matches(value ?? ''));
};
