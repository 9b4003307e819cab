import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getFreePort } from '../../host/orthanc-process.js';

const run = promisify(execFile);

/** Debian's PostgreSQL 15 binaries (package `postgresql`). */
export const postgresBin = '/usr/lib/postgresql/15/bin';

/** Orthanc's plugins from Debian's packages, by the path Orthanc loads them from (inside a test root too). */
export const orthancPlugins = {
  dicomWeb: '/usr/share/orthanc/plugins/libOrthancDicomWeb.so',
  postgreSqlIndex: '/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so',
} as const;

/** A throw-away PostgreSQL cluster on a free loopback port, owned by the unprivileged `postgres` user. */
export interface TestPostgres {
  host: '127.0.0.1';
  port: number;
  /** The superuser (`postgres`, trust authentication on loopback: no password). */
  user: string;
  /** `postgres://postgres@127.0.0.1:PORT/DATABASE` (default database `postgres`). */
  connectionString(database?: string): string;
  /** Runs SQL through `psql` (for fixtures and checks); resolves with its unaligned output. */
  psql(sql: string, database?: string): Promise<string>;
  /** Creates a database (idempotent only in a fresh cluster: it fails if one already exists). */
  createDatabase(name: string): Promise<void>;
  /** Stops the server (fast shutdown) without removing its data; `start()` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/**
 * Starts PostgreSQL 15 in a temporary folder. PostgreSQL refuses to run as root, so as root the
 * cluster belongs to the `postgres` system user (which Debian's package creates) and every
 * server command runs through `runuser`. About two seconds.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-pg-'));
  const data = join(directory, 'data');
  const log = join(directory, 'postgres.log');
  const port = await getFreePort();
  const asRoot = process.getuid?.() === 0;
  const asOwner = async (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    return run(file, argv, { maxBuffer: 64 * 2 ** 20 });
  };
  if (asRoot) {
    await chmod(directory, 0o755);
    await run('chown', ['postgres:postgres', directory]);
  }
  await asOwner(join(postgresBin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const start = async () => {
    await asOwner(join(postgresBin, 'pg_ctl'), [
      '-D',
      data,
      '-w',
      '-l',
      log,
      '-o',
      `-p ${port} -k ${directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      'start',
    ]);
  };
  const stop = async () => {
    await asOwner(join(postgresBin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
  };
  await start();
  const psql = async (sql: string, database = 'postgres') =>
    (
      await run('psql', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        database,
        '-v',
        'ON_ERROR_STOP=1',
        '-At',
        '-c',
        sql,
      ])
    ).stdout;
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    connectionString: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    psql,
    createDatabase: async (name) => void (await psql(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)),
    stop,
    start,
    async dispose() {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
