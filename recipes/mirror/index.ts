import pg from 'pg';
import { OrthancHttpError, ResourceType, type OrthancBinding } from '../../shared/binding/index.js';
import { defineRecipe, type OptionsIssue } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

const levels = ['patients', 'studies', 'series', 'instances'] as const;
type Level = (typeof levels)[number];
const levelOf: Readonly<Record<number, Level>> = {
  [ResourceType.PATIENT]: 'patients',
  [ResourceType.STUDY]: 'studies',
  [ResourceType.SERIES]: 'series',
  [ResourceType.INSTANCE]: 'instances',
};

/** A queued piece of work: mirror a resource as Orthanc has it now, or remove it. */
interface Task {
  action: 'upsert' | 'delete';
  level: Level;
  id: string;
}

/** The resource's JSON as Orthanc gives it now, or undefined when Orthanc no longer has it. */
async function current(orthanc: OrthancBinding, level: Level, id: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await orthanc.restApiGetJson<Record<string, unknown>>(`/${level}/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof OrthancHttpError && error.httpStatus === 404) return undefined;
    throw error;
  }
}

/**
 * The Python sample "Synchronizing with CouchDB", into PostgreSQL: each patient, study, series and
 * instance JSON in a JSONB table, upserted on new and updated resources and removed on deletion.
 * Its progress is its own durable queue: a resource not mirrored yet (PostgreSQL down, host killed)
 * is mirrored later; at start, a catch-up compares the index with the table.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'mirror',
    title: 'Mirror to PostgreSQL',
    description: 'Mirrors each patient, study, series and instance JSON into a PostgreSQL JSONB table, on new, updated and deleted resources, catching up after downtime.',
    category: 'Automation',
    routes: ['GET /recipes/mirror/status'],
    events: ['NEW_PATIENT', 'NEW_STUDY', 'NEW_SERIES', 'NEW_INSTANCE', 'STABLE_PATIENT', 'STABLE_STUDY', 'STABLE_SERIES', 'UPDATED_METADATA', 'UPDATED_ATTACHMENT', 'DELETED'],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#synchronizing-with-couchdb',
  },
  schema,
  check(options) {
    const issues: OptionsIssue[] = [];
    if (options.ConnectionString === '') issues.push({ pointer: '/ConnectionString', message: 'a PostgreSQL connection string is required (postgres://user@host:5432/database)' });
    return issues;
  },
  async setup({ orthanc, log, queue, signal }, options) {
    const table = `"${options.Table}"`;
    const pool = new pg.Pool({ connectionString: options.ConnectionString, max: 4, connectionTimeoutMillis: 10_000 });
    // An idle client's error (the server restarted) is emitted on the pool: without a listener it would crash the host.
    pool.on('error', (error) => log.warning(`PostgreSQL: ${error.message}`));
    const tasks = queue('mirror');
    const counts = { Upserted: 0, Deleted: 0, Failed: 0, CaughtUp: 0 };

    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (level TEXT NOT NULL, id TEXT NOT NULL, body JSONB NOT NULL, last_update TEXT, mirrored_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (level, id))`);

    const enqueue = (task: Task) => tasks.enqueue(JSON.stringify(task));
    const apply = async (task: Task) => {
      const body = task.action === 'upsert' ? await current(orthanc, task.level, task.id) : undefined;
      if (body === undefined) {
        await pool.query(`DELETE FROM ${table} WHERE level = $1 AND id = $2`, [task.level, task.id]);
        counts.Deleted += 1;
        return;
      }
      await pool.query(
        `INSERT INTO ${table} (level, id, body, last_update) VALUES ($1, $2, $3, $4)
         ON CONFLICT (level, id) DO UPDATE SET body = excluded.body, last_update = excluded.last_update, mirrored_at = now()`,
        [task.level, task.id, JSON.stringify(body), typeof body.LastUpdate === 'string' ? body.LastUpdate : null],
      );
      counts.Upserted += 1;
    };

    orthanc.registerOnChangeCallback(
      async (changeType, resourceType, resourceId) => {
        const level = levelOf[resourceType];
        if (!level) return;
        await enqueue({ action: changeType === 1 /* DELETED */ ? 'delete' : 'upsert', level, id: resourceId });
      },
      { types: ['NEW_PATIENT', 'NEW_STUDY', 'NEW_SERIES', 'NEW_INSTANCE', 'STABLE_PATIENT', 'STABLE_STUDY', 'STABLE_SERIES', 'UPDATED_METADATA', 'UPDATED_ATTACHMENT', 'DELETED'] },
    );

    /** What happened while the recipe was off: every resource missing or older in the table, every row Orthanc no longer has. */
    const catchUp = async () => {
      for (const level of levels) {
        const rows = await pool.query<{ id: string; last_update: string | null }>(`SELECT id, last_update FROM ${table} WHERE level = $1`, [level]);
        const mirrored = new Map(rows.rows.map((row) => [row.id, row.last_update]));
        const pageSize = 1000;
        for (let since = 0; !signal.aborted; since += pageSize) {
          const page = await orthanc.restApiGetJson<{ ID: string; LastUpdate?: string }[]>(`/${level}?expand&since=${since}&limit=${pageSize}`);
          for (const resource of page) {
            if (!mirrored.has(resource.ID) || mirrored.get(resource.ID) !== (resource.LastUpdate ?? null)) {
              await enqueue({ action: 'upsert', level, id: resource.ID });
              counts.CaughtUp += 1;
            }
            mirrored.delete(resource.ID);
          }
          if (page.length < pageSize) break;
        }
        for (const id of mirrored.keys()) {
          await enqueue({ action: 'delete', level, id });
          counts.CaughtUp += 1;
        }
      }
    };

    const stop = new AbortController();
    signal.addEventListener('abort', () => stop.abort(), { once: true });
    const working = tasks.work(async (value) => apply(JSON.parse(value) as Task), {
      signal: stop.signal,
      reserveSeconds: options.RetrySeconds,
      onError: (error) => {
        counts.Failed += 1;
        log.warning(`a resource was not mirrored, tried again in ${options.RetrySeconds} s: ${(error as Error).message}`);
      },
    });
    const caughtUp = options.CatchUpAtStart
      ? catchUp().then(
          () => log.info(`catch-up queued ${counts.CaughtUp} resources`),
          (error: unknown) => log.warning(`catch-up failed: ${(error as Error).message}`),
        )
      : Promise.resolve();

    orthanc.registerRestCallback(
      '/recipes/mirror/status',
      async (output) => {
        output.answerJson({ Table: options.Table, Pending: await tasks.size(), SinceStart: counts });
      },
      { hostAction: true, methods: ['GET'] },
    );

    return {
      async close() {
        stop.abort();
        await Promise.allSettled([working, caughtUp]);
        await pool.end();
      },
    };
  },
});
