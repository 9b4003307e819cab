import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { levelOfResourceType, levelPath } from '../../shared/orthanc-resources.js';
import { defineRecipe, type OptionsIssue } from '../../shared/recipe.js';
import { couchDbTarget } from './couchdb-target.js';
import { apply, catchUpUntilDone, enqueue, type Lane, type Task } from './lane.js';
import type { Options } from './options.generated.js';
import { openPostgresTarget } from './postgres-target.js';
import schema from './schema.json' with { type: 'json' };

const events = [
  'NEW_PATIENT',
  'NEW_STUDY',
  'NEW_SERIES',
  'NEW_INSTANCE',
  'STABLE_PATIENT',
  'STABLE_STUDY',
  'STABLE_SERIES',
  'UPDATED_METADATA',
  'UPDATED_ATTACHMENT',
  'DELETED',
] as const;

/**
 * The Python sample "Synchronizing with CouchDB", into PostgreSQL (a JSONB table) and/or CouchDB's
 * HTTP API: each patient, study, series and instance JSON, upserted on new and updated resources
 * and removed on deletion. Each target's progress is its own durable queue: a resource not
 * mirrored yet (the target down, host killed) is mirrored later; at start, a catch-up compares the
 * index with what the target holds.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'mirror',
    title: 'Mirror to PostgreSQL or CouchDB',
    description:
      'Mirrors each patient, study, series and instance JSON into a PostgreSQL JSONB table and/or a CouchDB database, on new, updated and deleted resources, catching up after downtime.',
    category: 'Automation',
    routes: ['GET /recipes/mirror/status'],
    events: [...events],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#synchronizing-with-couchdb',
  },
  schema,
  check(options) {
    const issues: OptionsIssue[] = [];
    const couch = options.CouchDB;
    if (options.ConnectionString === '' && couch.Url === '')
      issues.push({
        pointer: '/ConnectionString',
        message: 'a PostgreSQL connection string is required (postgres://user@host:5432/database), unless CouchDB.Url is given',
      });
    if (couch.Url !== '') {
      let url: URL | undefined;
      try {
        url = new URL(couch.Url);
      } catch {
        issues.push({ pointer: '/CouchDB/Url', message: 'not a URL (http://user@host:5984)' });
      }
      if (url && url.protocol !== 'http:' && url.protocol !== 'https:')
        issues.push({ pointer: '/CouchDB/Url', message: 'http: or https: only' });
      if (url && couch.PasswordFile !== '' && url.username === '')
        issues.push({ pointer: '/CouchDB/PasswordFile', message: 'give the user name in CouchDB.Url (http://user@host:5984)' });
    }
    return issues;
  },
  async setup({ orthanc, log, queue, signal, configDirectory }, options) {
    const lanes: Lane[] = [];
    const newCounts = () => ({ Upserted: 0, Deleted: 0, Failed: 0, CaughtUp: 0 });
    const stop = new AbortController();
    signal.addEventListener('abort', () => stop.abort(), { once: true });
    try {
      if (options.ConnectionString !== '') {
        // The queue keeps its first name: work queued before CouchDB existed stays PostgreSQL's.
        lanes.push({
          target: await openPostgresTarget(options.ConnectionString, options.Table, log),
          tasks: queue('mirror'),
          counts: newCounts(),
        });
      }
      if (options.CouchDB.Url !== '') {
        const password =
          options.CouchDB.PasswordFile === ''
            ? undefined
            : (await readFile(resolve(configDirectory, options.CouchDB.PasswordFile), 'utf8')).split(/\r?\n/)[0]!;
        lanes.push({
          target: couchDbTarget({ url: options.CouchDB.Url, database: options.CouchDB.Database, password }),
          tasks: queue('mirror-couchdb'),
          counts: newCounts(),
        });
      }
    } catch (error) {
      await Promise.allSettled(lanes.map((lane) => lane.target.close()));
      throw error;
    }

    orthanc.registerOnChangeCallback(
      async (changeType, resourceType, resourceId) => {
        const resourceLevel = levelOfResourceType(resourceType);
        if (!resourceLevel) return;
        const level = levelPath[resourceLevel];
        const task: Task = { action: changeType === 1 /* DELETED */ ? 'delete' : 'upsert', level, id: resourceId };
        for (const lane of lanes) await enqueue(lane, task);
      },
      { types: [...events] },
    );

    const running = lanes.flatMap((lane) => [
      lane.tasks.work(async (value) => apply(orthanc, lane, JSON.parse(value) as Task), {
        signal: stop.signal,
        reserveSeconds: options.RetrySeconds,
        onError: (error) => {
          lane.counts.Failed += 1;
          log.warning('a resource was not mirrored; tried again later', {
            target: lane.target.name,
            retrySeconds: options.RetrySeconds,
            error: (error as Error).message,
          });
        },
      }),
      options.CatchUpAtStart ? catchUpUntilDone(orthanc, lane, stop.signal, log, options.RetrySeconds) : Promise.resolve(),
    ]);

    const laneStatus = async (lane: Lane) => ({ Pending: await lane.tasks.size(), SinceStart: lane.counts });
    orthanc.registerRestCallback(
      '/recipes/mirror/status',
      async (output) => {
        const postgres = lanes.find((lane) => lane.target.name === 'PostgreSQL');
        const couch = lanes.find((lane) => lane.target.name === 'CouchDB');
        output.answerJson({
          ...(postgres ? { Table: options.Table, ...(await laneStatus(postgres)) } : {}),
          ...(couch ? { CouchDB: { Database: options.CouchDB.Database, ...(await laneStatus(couch)) } } : {}),
        });
      },
      { hostAction: true, methods: ['GET'] },
    );

    return {
      async close() {
        stop.abort();
        await Promise.allSettled(running);
        await Promise.allSettled(lanes.map((lane) => lane.target.close()));
      },
    };
  },
});
