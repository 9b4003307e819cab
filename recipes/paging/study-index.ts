import { isNotFound, type Logger, type OrthancBinding } from '../../shared/binding/index.js';
import { resourcePages } from '../../shared/orthanc-resources.js';
import type { RecipeDatabase, SqlValue } from '../../shared/recipe-database.js';
import type { Page } from './find-engine.js';
import { sortKeys, type PageRequest } from './params.js';

type StudyJson = {
  ID: string;
  MainDicomTags?: Record<string, string | undefined>;
  PatientMainDicomTags?: Record<string, string | undefined>;
};

const columns = Object.values(sortKeys);

/** Steps only ever appended (see RecipeDatabase.migrate). */
const migrations = [
  `CREATE TABLE {studies} (
     id TEXT PRIMARY KEY,
     ${columns.map((column) => `${column} TEXT NOT NULL`).join(',\n     ')},
     seen_at BIGINT NOT NULL
   );
   ${columns.map((column) => `CREATE INDEX {studies_by_${column}} ON {studies} (${column}, study_uid, id);`).join('\n   ')}`,
];

const PAGE_OF_SYNC = 500;
const PARALLEL_READS = 8;

/**
 * For an Orthanc that cannot sort (before 1.12.5, or a database without `HasExtendedFind`): the
 * sort keys of every study in the recipe's own table, so that a page is one indexed query plus
 * one `/tools/find` for the page's own studies, not a read of every study per request as in the
 * Python sample.
 *
 * Kept by the change feed (NEW_STUDY, STABLE_STUDY) and by a full pass each time Orthanc
 * (re)appears, which also drops studies deleted meanwhile: Orthanc writes no deletion to
 * `/changes`. A study deleted since is found when a page reads it (404): it is dropped and the
 * page made again.
 */
export class StudyIndex {
  private synced = false;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly orthanc: OrthancBinding,
    private readonly database: RecipeDatabase,
    private readonly log: Logger,
  ) {}

  async open(): Promise<void> {
    await this.database.migrate(migrations);
  }

  /** False until the first full pass has ended: pages would miss studies before. */
  get ready(): boolean {
    return this.synced;
  }

  /** A full pass over Orthanc's studies (one at a time: a second call joins the one running). */
  sync(): Promise<void> {
    this.syncing ??= this.fullPass().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async fullPass(): Promise<void> {
    const started = Date.now();
    let count = 0;
    for await (const studies of resourcePages<StudyJson>(this.orthanc, 'Study', { pageSize: PAGE_OF_SYNC })) {
      await this.database.batch(studies.map((study) => this.upsertStatement(study)));
      count += studies.length;
    }
    const dropped = await this.database.run('DELETE FROM {studies} WHERE seen_at < ?', [started]);
    this.synced = true;
    this.log.info('index built', { studies: count, durationMs: Date.now() - started, dropped });
  }

  /** Indexes one study (again); drops it when Orthanc no longer has it. */
  async refresh(studyId: string): Promise<void> {
    try {
      const study = await this.orthanc.restApiGetJson<StudyJson>(`/studies/${encodeURIComponent(studyId)}`);
      const { sql, parameters } = this.upsertStatement(study);
      await this.database.run(sql, parameters);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.database.run('DELETE FROM {studies} WHERE id = ?', [studyId]);
    }
  }

  /**
   * A page, its studies read from Orthanc *as the caller* (`caller`, the route's
   * `request.orthanc`): a caller Orthanc refuses gets Orthanc's refusal (the binding's
   * `OrthancHttpError`, answered with its status), never the host's view. A study the caller's
   * read lacks is asked of Orthanc with the host's rights: gone there too, it was deleted and is
   * dropped from the index, and the page made again (no short page for it); still there, the
   * caller may not see it (an authorization plugin filtering `/tools/find`): left out of this
   * caller's page, kept in the index.
   */
  async page(request: PageRequest, caller: OrthancBinding): Promise<Page> {
    const column = sortKeys[request.sort];
    const direction = request.order === 'asc' ? 'ASC' : 'DESC';
    // StudyInstanceUID, then Orthanc's ID, break ties: the order is total, pages stable.
    const sql = `SELECT id, study_uid FROM {studies} ORDER BY ${column} ${direction}, study_uid ASC, id ASC LIMIT ? OFFSET ?`;
    for (let attempt = 1; ; attempt += 1) {
      const rows = await this.database.all<{ id: string; study_uid: string }>(sql, [request.limit, request.offset]);
      const found = await readStudies(caller, rows);
      const missing = rows.filter((row) => !found.has(row.id));
      const stillThere = missing.length === 0 ? new Map<string, StudyJson>() : await readStudies(this.orthanc, missing);
      const gone = missing.filter((row) => !stillThere.has(row.id)).map((row) => row.id);
      for (const id of gone) await this.database.run('DELETE FROM {studies} WHERE id = ?', [id]);
      if (gone.length === 0 || attempt === 3) {
        const total = await this.database.get<{ n: number }>('SELECT COUNT(*) AS n FROM {studies}');
        const studies = rows.map((row) => found.get(row.id)).filter((study): study is StudyJson => study !== undefined);
        return { studies, total: Number(total?.n ?? 0) };
      }
    }
  }

  private upsertStatement(study: StudyJson): { sql: string; parameters: SqlValue[] } {
    const tags = { ...study.PatientMainDicomTags, ...study.MainDicomTags };
    const values = Object.keys(sortKeys).map((key) => (Object.prototype.hasOwnProperty.call(tags, key) ? String(tags[key] ?? '') : ''));
    return {
      sql: `INSERT INTO {studies} (id, ${columns.join(', ')}, seen_at) VALUES (?, ${columns.map(() => '?').join(', ')}, ?)
            ON CONFLICT (id) DO UPDATE SET ${columns.map((column) => `${column} = excluded.${column}`).join(', ')}, seen_at = excluded.seen_at`,
      parameters: [study.ID, ...values, Date.now()],
    };
  }
}

/**
 * The page's studies by Orthanc ID: one `/tools/find` whose StudyInstanceUID is the list of the
 * page's UIDs (`uid1\uid2…`, list matching, answered by 1.10 and 1.12 alike) rather than one
 * read per study; a study without a UID is read alone. A study missing from the answer was
 * deleted, or is not this binding's to see. Orthanc's refusals (401, 403) are thrown.
 */
async function readStudies(orthanc: OrthancBinding, rows: { id: string; study_uid: string }[]): Promise<Map<string, StudyJson>> {
  const found = new Map<string, StudyJson>();
  const withUid = rows.filter((row) => /^[0-9.]+$/.test(row.study_uid));
  // Always one /tools/find, even for an empty page (then `Limit: 1` of any study): Orthanc
  // decides whether this binding may read studies before the page, or its total, is answered.
  const answers = await orthanc.restApiPostJson<StudyJson[]>(
    '/tools/find',
    withUid.length > 0
      ? { Level: 'Study', Query: { StudyInstanceUID: [...new Set(withUid.map((row) => row.study_uid))].join('\\') }, Expand: true }
      : { Level: 'Study', Query: {}, Limit: 1 },
  );
  if (withUid.length > 0) for (const study of answers) found.set(study.ID, study);
  const alone = rows.filter((row) => !/^[0-9.]+$/.test(row.study_uid)).map((row) => row.id);
  const read = await readAll(alone, (id) => orthanc.restApiGetJson<StudyJson>(`/studies/${encodeURIComponent(id)}`));
  alone.forEach((id, index) => read[index] && found.set(id, read[index]));
  return found;
}

/** Reads each id, a few at a time, in order; undefined where Orthanc answers 404. */
async function readAll<T>(ids: string[], read: (id: string) => Promise<T>): Promise<(T | undefined)[]> {
  const results = new Array<T | undefined>(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const index = next++;
      try {
        results[index] = await read(ids[index]!);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        results[index] = undefined;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, ids.length) }, worker));
  return results;
}
