import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from './binding/index.js';
import { LocalCluster, hostIdIn, type Cluster } from './cluster.js';
import { PostgresCluster, PostgresStateStore } from './postgres-state.js';
import { StateStore, type StateBackend } from './state-store.js';

export interface StateDatabaseOptions {
  Engine: 'SQLite' | 'PostgreSQL';
  ConnectionString: string;
  PasswordFile: string;
  Schema: string;
  LeaseSeconds: number;
}

/**
 * Opens the state database that `StateDatabase` names, and the cluster view that goes with it:
 * SQLite in the state directory (one host), or PostgreSQL shared by every host of a cluster.
 * The host's id is kept in the state directory either way.
 */
export async function openState(
  options: StateDatabaseOptions,
  stateDirectory: string,
  configDirectory: string,
  log: Logger,
): Promise<{ state: StateBackend; cluster: Cluster }> {
  const hostId = hostIdIn(stateDirectory);
  const leaseMs = Math.round(options.LeaseSeconds * 1000);
  if (options.Engine !== 'PostgreSQL') return { state: new StateStore(stateDirectory), cluster: new LocalCluster(hostId, leaseMs, log) };
  const password = options.PasswordFile
    ? (await readFile(resolve(configDirectory, options.PasswordFile), 'utf8')).split(/\r?\n/)[0]!
    : undefined;
  const state = await PostgresStateStore.open({ connectionString: options.ConnectionString, password, schema: options.Schema, log });
  return { state, cluster: new PostgresCluster(state.pool, hostId, leaseMs, log) };
}
