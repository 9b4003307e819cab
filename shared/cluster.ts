import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ChangeClaims } from './binding/change-feed.js';
import { describe, type Logger } from './binding/index.js';

export type { ChangeClaim, ChangeClaims } from './binding/change-feed.js';

/**
 * Work shared by several hosts, each beside one Orthanc of a cluster on one PostgreSQL index.
 * Every unit of work is claimed in the state database before it is done: a lease with an expiry,
 * renewed by its host's heartbeat while the work runs, so that a host that dies loses its leases
 * after `leaseMs` and another takes the work over. With SQLite there is one host: every claim is
 * granted at once, in memory, and nothing else changes.
 */

/** How far a host's clock may be from the state database's before the host says so. */
const clockWarningMs = 1000;

/** A single run taken by this host; `release` when it ends. */
export interface RunClaim {
  release(): Promise<void>;
}

/**
 * The Orthanc beside another host of the cluster, read with this host's credentials (a cluster's
 * Orthancs share their users). Orthanc keeps its jobs in its own memory (saved to its database
 * only for its own restart): a job is asked of the Orthanc that runs it.
 */
export interface PeerOrthanc {
  readonly url: string;
  getJson<T>(uri: string): Promise<T>;
  close(): Promise<void>;
}

/** What a recipe sees of the cluster (`ctx.cluster`). */
export interface ClusterMember {
  /** This host's id (stable across restarts: kept in its state directory). */
  readonly hostId: string;
  /** Whether other hosts share the state (PostgreSQL); false with SQLite (one host). */
  readonly shared: boolean;
  /** How long a lease lasts without its host's heartbeat. */
  readonly leaseMs: number;
  /**
   * The cluster's clock: the state database's time as this host reckons it (its own clock plus the
   * offset measured at each heartbeat), so that hosts whose clocks disagree name the same period.
   * This host's clock with SQLite.
   */
  now(): number;
  /** Calls `renew` at every heartbeat (a third of `leaseMs`) while the host lives; returns how to stop. */
  onHeartbeat(renew: () => unknown): () => void;
  /** Publishes what the recipe does on this host (a JSON value read at each heartbeat), shown by `/recipes`. */
  report(describeActivity: () => unknown): () => void;
  /**
   * Takes the single run `name`: never two at once across the cluster (an advisory lock held
   * while it runs), and with `period`, once per period. Undefined when another run holds it or
   * the period was already run.
   */
  claimRun(name: string, period?: string): Promise<RunClaim | undefined>;
  /** The Orthanc beside host `hostId` (another host of the cluster); undefined when unknown, or alone. */
  peerOrthanc(hostId: string): Promise<PeerOrthanc | undefined>;
}

export interface HostRecord {
  Id: string;
  Name: string;
  Url: string | null;
  Orthanc: string | null;
  Started: string | null;
  LastHeartbeat: string | null;
  Alive: boolean;
  /** Changes this host has claimed and not finished. */
  ChangeLeases: number;
  /** Single runs (scheduler tasks) in progress on this host. */
  Runs: string[];
  /** What each recipe reports it does there. */
  Activity: Record<string, unknown>;
  /** How far this host's clock is from the state database's, as its last heartbeat measured it (ms; positive: behind). */
  ClockOffsetMs: number | null;
}

export interface ClusterDescription {
  Engine: 'SQLite' | 'PostgreSQL';
  HostId: string;
  LeaseSeconds: number;
  Hosts: HostRecord[];
}

export interface HostIdentity {
  name: string;
  url: string | null;
  orthanc: string | null;
}

/** The host's side of the cluster. */
export abstract class Cluster {
  abstract readonly engine: 'SQLite' | 'PostgreSQL';
  abstract readonly changeClaims: ChangeClaims | undefined;
  protected identity: HostIdentity = { name: hostname(), url: null, orthanc: null };
  protected readonly started = Date.now();
  protected readonly runs = new Set<string>();
  private readonly renewers = new Set<() => unknown>();
  private readonly reporters = new Map<string, () => unknown>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private connectPeer: ((url: string) => PeerOrthanc) | undefined;

  constructor(
    readonly hostId: string,
    readonly leaseMs: number,
    protected readonly log: Logger,
  ) {}

  get shared(): boolean {
    return this.engine === 'PostgreSQL';
  }

  /** The state database's clock minus this host's, as the last heartbeat measured it. */
  protected clockOffsetMs = 0;
  private clockWarned = false;

  /** The cluster's clock (see `ClusterMember.now`). */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /**
   * Takes a new measure of the offset. Leases and `Every` tasks follow the database's clock, but a
   * cron `Schedule` fires on this host's: an offset past a second is said once (until it is mended).
   */
  protected noteClockOffset(offsetMs: number): void {
    this.clockOffsetMs = Math.round(offsetMs);
    const off = Math.abs(this.clockOffsetMs);
    if (off > clockWarningMs && !this.clockWarned) {
      this.clockWarned = true;
      this.log.warning(
        `this host's clock is ${this.clockOffsetMs > 0 ? 'behind' : 'ahead of'} the state database's by ${off} ms: leases and Every tasks follow the database's clock, cron Schedules this host's; synchronize the clocks (NTP)`,
      );
    } else if (off <= clockWarningMs / 2 && this.clockWarned) {
      this.clockWarned = false;
      this.log.info(`this host's clock agrees with the state database's again (${this.clockOffsetMs} ms)`);
    }
  }

  /** How to reach another host's Orthanc (the host's connection options, another URL). */
  setPeerConnector(connect: (url: string) => PeerOrthanc): void {
    this.connectPeer = connect;
  }

  /** Announces the host and starts its heartbeat. */
  async start(identity: Partial<HostIdentity>): Promise<void> {
    // Hosts on one machine differ by their front's address.
    this.identity = {
      ...this.identity,
      ...(identity.url && !identity.name ? { name: `${hostname()} ${new URL(identity.url).host}` } : {}),
      ...identity,
    };
    await this.beat();
    this.timer ??= setInterval(() => void this.beat(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /** One heartbeat: the host's row and its change leases, then every recipe's renewal. Never throws. */
  private beat(): Promise<void> {
    this.beating ??= (async () => {
      try {
        await this.heartbeat(this.activity());
      } catch (error) {
        this.log.warning(`cluster heartbeat failed (leases expire in ${this.leaseMs / 1000} s without one): ${describe(error)}`);
      }
      for (const renew of this.renewers) {
        try {
          await renew();
        } catch (error) {
          this.log.warning(`renewing leases failed: ${describe(error)}`);
        }
      }
    })().finally(() => (this.beating = undefined));
    return this.beating;
  }

  protected activity(): Record<string, unknown> {
    const activity: Record<string, unknown> = {};
    for (const [owner, read] of this.reporters) {
      try {
        activity[owner] = read();
      } catch (error) {
        activity[owner] = { Error: describe(error) };
      }
    }
    return activity;
  }

  member(owner: string): ClusterMember {
    return {
      hostId: this.hostId,
      shared: this.shared,
      leaseMs: this.leaseMs,
      now: () => this.now(),
      onHeartbeat: (renew) => {
        this.renewers.add(renew);
        return () => void this.renewers.delete(renew);
      },
      report: (read) => {
        this.reporters.set(owner, read);
        return () => void (this.reporters.get(owner) === read && this.reporters.delete(owner));
      },
      claimRun: async (name, period) => {
        const key = `${owner}:${name}`;
        const claim = await this.claimRun(key, period);
        if (!claim) return undefined;
        this.runs.add(key);
        return { release: () => (this.runs.delete(key), claim.release()) };
      },
      peerOrthanc: async (hostId) => {
        if (hostId === this.hostId || !this.connectPeer) return undefined;
        const url = await this.orthancOf(hostId);
        return url ? this.connectPeer(url) : undefined;
      },
    };
  }

  /** The URL of the Orthanc beside host `hostId`, as that host announced it; null when unknown. */
  protected async orthancOf(_hostId: string): Promise<string | null> {
    return null;
  }

  /** Stops the heartbeat and gives back what can be given back at once. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    await this.leave().catch((error: unknown) => this.log.warning(`leaving the cluster: ${describe(error)}`));
  }

  protected abstract heartbeat(activity: Record<string, unknown>): Promise<void>;
  protected abstract claimRun(key: string, period: string | undefined): Promise<RunClaim | undefined>;
  protected abstract leave(): Promise<void>;
  abstract describe(): Promise<ClusterDescription>;
}

/** One host (SQLite): every claim is granted at once, in memory; single runs are kept apart in memory. */
export class LocalCluster extends Cluster {
  readonly engine = 'SQLite';
  readonly changeClaims = undefined;
  private readonly held = new Set<string>();

  protected async heartbeat(): Promise<void> {}

  protected async claimRun(key: string): Promise<RunClaim | undefined> {
    if (this.held.has(key)) return undefined;
    this.held.add(key);
    return { release: async () => void this.held.delete(key) };
  }

  protected async leave(): Promise<void> {}

  async describe(): Promise<ClusterDescription> {
    const now = new Date().toISOString();
    return {
      Engine: 'SQLite',
      HostId: this.hostId,
      LeaseSeconds: this.leaseMs / 1000,
      Hosts: [
        {
          Id: this.hostId,
          Name: this.identity.name,
          Url: this.identity.url,
          Orthanc: this.identity.orthanc,
          Started: new Date(this.started).toISOString(),
          LastHeartbeat: now,
          Alive: true,
          ChangeLeases: 0,
          Runs: [...this.runs],
          Activity: this.activity(),
          ClockOffsetMs: null,
        },
      ],
    };
  }
}

/** This host's id, kept in its state directory so that a restarted host resumes its own work. */
export function hostIdIn(stateDirectory: string): string {
  const file = join(stateDirectory, 'host-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9-]{8,64}$/.test(id)) return id;
  } catch {
    // first start
  }
  mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
  const id = randomUUID();
  // Private like every file of the state folder.
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
