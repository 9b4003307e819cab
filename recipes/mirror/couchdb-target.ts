import { emptyMirrored, lastUpdateOf, type Level, type MirrorTarget, type ResourceJson } from './targets.js';

/** How many times a write is tried again at once after a 409 (someone else wrote the document meanwhile). */
const conflictRetries = 5;
const requestTimeoutMs = 30_000;
const pageSize = 1000;

/** Orthanc's `Type` field, as the documents carry it, back to the level. */
const levelOfType: Readonly<Record<string, Level>> = { Patient: 'patients', Study: 'studies', Series: 'series', Instance: 'instances' };

export interface CouchDbOptions {
  /** The server, e.g. `http://orthanc@couch.example:5984` (a user name may be given here). */
  url: string;
  database: string;
  /** Read from `PasswordFile`; overrides a password in the URL. */
  password?: string;
}

/** An answer from CouchDB that is not what was expected; `status` is its HTTP status. */
export class CouchDbError extends Error {
  constructor(
    readonly status: number,
    what: string,
    body: string,
  ) {
    // CouchDB's error bodies are `{"error","reason"}`: no document content, safe to log.
    super(`CouchDB answered ${status} to ${what}: ${body.slice(0, 200)}`);
    this.name = 'CouchDbError';
  }
}

/** The server's URL without its credentials (fetch refuses URLs that carry them), and the Basic authorization they make. */
export function couchDbEndpoint(options: CouchDbOptions): { base: string; authorization?: string } {
  const url = new URL(options.url);
  const username = decodeURIComponent(url.username);
  const password = options.password ?? decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const base = `${url.href.replace(/\/+$/, '')}/${encodeURIComponent(options.database)}`;
  if (username === '' && password === '') return { base };
  return { base, authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

/**
 * CouchDB's HTTP API (CouchDB, PouchDB Server, Cloudant...): one database, one document per
 * resource whose `_id` is the Orthanc ID (unique across levels) and whose fields are Orthanc's
 * JSON (its `Type` tells the level). The database is created when a write finds it missing.
 */
export function couchDbTarget(options: CouchDbOptions): MirrorTarget {
  const { base, authorization } = couchDbEndpoint(options);
  const headers: Record<string, string> = { accept: 'application/json', ...(authorization ? { authorization } : {}) };

  const call = async (method: string, path: string, body?: unknown) => {
    const answer = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    return { status: answer.status, text: await answer.text() };
  };
  const documentPath = (id: string) => `/${encodeURIComponent(id)}`;

  /** The stored document, or undefined when there is none (nor a database). */
  const read = async (id: string): Promise<Record<string, unknown> | undefined> => {
    const answer = await call('GET', documentPath(id));
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw new CouchDbError(answer.status, 'a document read', answer.text);
    return JSON.parse(answer.text) as Record<string, unknown>;
  };
  const createDatabase = async () => {
    const answer = await call('PUT', '');
    // 412: created meanwhile by someone else.
    if (answer.status !== 201 && answer.status !== 202 && answer.status !== 412)
      throw new CouchDbError(answer.status, 'the database creation', answer.text);
  };
  const sameContent = (stored: Record<string, unknown>, body: ResourceJson) => {
    const { _id, _rev, ...content } = stored;
    return JSON.stringify(content) === JSON.stringify(body);
  };

  return {
    name: 'CouchDB',
    async upsert(_level, id, body) {
      for (let attempt = 0; attempt <= conflictRetries; attempt += 1) {
        const stored = await read(id);
        // A change delivered again writes nothing: no new revision for the same content.
        if (stored && sameContent(stored, body)) return;
        const answer = await call('PUT', documentPath(id), { ...body, _id: id, ...(stored ? { _rev: stored._rev } : {}) });
        if (answer.status === 201 || answer.status === 202) return;
        if (answer.status === 409) continue; // Written by someone else since the read: read its _rev again.
        if (answer.status === 404 && stored === undefined) {
          await createDatabase();
          continue;
        }
        throw new CouchDbError(answer.status, 'a document write', answer.text);
      }
      throw new Error(`CouchDB: the document was still in conflict after ${conflictRetries + 1} writes`);
    },
    async remove(_level, id) {
      for (let attempt = 0; attempt <= conflictRetries; attempt += 1) {
        const stored = await read(id);
        if (stored === undefined) return;
        const answer = await call('DELETE', `${documentPath(id)}?rev=${encodeURIComponent(String(stored._rev))}`);
        if (answer.status === 200 || answer.status === 202 || answer.status === 404) return;
        if (answer.status === 409) continue;
        throw new CouchDbError(answer.status, 'a document deletion', answer.text);
      }
      throw new Error(`CouchDB: the deletion was still in conflict after ${conflictRetries + 1} tries`);
    },
    async mirrored() {
      const found = emptyMirrored();
      // By pages in key order: `startkey` is the last key seen, skipped.
      for (let after: string | undefined; ;) {
        const query = `include_docs=true&limit=${pageSize}${after === undefined ? '' : `&skip=1&startkey=${encodeURIComponent(JSON.stringify(after))}`}`;
        const answer = await call('GET', `/_all_docs?${query}`);
        if (answer.status === 404) return found; // No database yet: nothing mirrored.
        if (answer.status !== 200) throw new CouchDbError(answer.status, 'the document list', answer.text);
        const rows = (JSON.parse(answer.text) as { rows: { id: string; doc?: ResourceJson }[] }).rows;
        for (const row of rows) {
          const level = row.doc && levelOfType[String(row.doc.Type)];
          if (level) found[level].set(row.id, lastUpdateOf(row.doc!));
        }
        if (rows.length < pageSize) return found;
        after = rows[rows.length - 1]!.id;
      }
    },
    async close() {},
  };
}
