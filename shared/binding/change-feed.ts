import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from './backoff.js';
import type { OrthancConnection } from './connection.js';
import {
  ChangeType,
  ResourceType,
  changeTypeFromOrthanc,
  changeTypeName,
  resourceTypeFromOrthanc,
  resourceTypeName,
  type ChangeTypeValue,
  type ResourceTypeValue,
} from './enums.js';
import { OrthancHttpError, describe } from './errors.js';
import type { Logger } from './logger.js';

/** One change as the callbacks see it. `seq` is Orthanc's, absent for ORTHANC_STARTED/STOPPED. */
export interface Change {
  changeType: ChangeTypeValue;
  resourceType: ResourceTypeValue;
  resourceId: string;
  seq?: number;
}

/** Where the feed keeps the `Seq` of the last change whose handlers have all finished. */
export interface CursorStore {
  load(): number | undefined | Promise<number | undefined>;
  /** Durable when it returns (or when the promise it returns resolves). */
  save(seq: number): unknown;
}

/** What a claim on a change found: this host handles it, it was handled, or another live host handles it. */
export type ChangeClaim = 'mine' | 'done' | 'held';

/**
 * Claims on changes in a database that several hosts share (each beside one Orthanc of a cluster
 * on one index, so every host reads the same `/changes`): a change is handled for a recipe by the
 * one host that claimed it. A claim is a lease that its host's heartbeat renews; a dead host's
 * claims expire and are taken over.
 */
export interface ChangeClaims {
  /** How often changes held by other hosts are checked again. */
  readonly checkIntervalMs: number;
  claim(owner: string, seq: number): Promise<ChangeClaim>;
  complete(owner: string, seq: number): Promise<void>;
  /** The changes another host held: done, still held, or expired (take it over). */
  check(owner: string, seqs: readonly number[]): Promise<Map<number, 'done' | 'held' | 'expired'>>;
}

export interface ChangeFeedOptions {
  connection: OrthancConnection;
  cursor: CursorStore;
  log: Logger;
  /** Pause between two polls once `/changes` says `Done`. Default 200 ms. */
  pollIntervalMs?: number;
  /** `limit` of each `/changes` page. Default 200. */
  pageSize?: number;
  /** The feed stops fetching while a subscriber has this many changes waiting. Default 1000. */
  maxQueued?: number;
  /** How long `stop()` waits for handlers to finish. Default 30 s. */
  drainTimeoutMs?: number;
  /**
   * Ask Orthanc only for the change types that subscribers want (`/changes?type=`, Orthanc
   * 1.12.5+ with `Capabilities.HasExtendedChanges`). `auto` (the default) uses it where `/system`
   * says it exists; `never` always reads every change (the portable path).
   */
  typeFilter?: 'auto' | 'never';
  /**
   * Several hosts share the work: each change is claimed for a subscriber before its handler runs
   * (subscribers made with `everyHost` excepted). The cursor passes a change another host holds
   * only once that host has finished it; when its claim expires, this host handles it.
   */
  claims?: ChangeClaims;
}

const orthancChangeTypeName = new Map(Object.entries(changeTypeFromOrthanc).map(([name, value]) => [value, name]));

interface OrthancChangesPage {
  Changes: { ChangeType: string; ID: string; ResourceType: string; Seq: number }[];
  Done: boolean;
  Last: number;
}

interface Subscriber {
  owner: string;
  /** The change types it wants; undefined for all of them. */
  types: ReadonlySet<ChangeTypeValue> | undefined;
  handler: (change: Change) => unknown;
  queue: Change[];
  running: boolean;
  /** Whether each change is claimed first (with `claims`): false for per-host work such as caches. */
  claimed: boolean;
  /** Changes that another host holds, by `Seq`: finished when it is done, taken over when it expires. */
  watched: Map<number, Change>;
}

/**
 * The one poller of Orthanc's `/changes`, shared by every subscriber. Each subscriber has its own
 * in-order queue, so a slow or failing handler only delays itself. Delivery is at-least-once: the
 * cursor advances past a change only when every subscriber has finished it, and `stop()` drains
 * the queues first, so a normal restart delivers nothing twice.
 *
 * Orthanc never writes `Deleted` or `NewChildInstance` to `/changes` (they are signalled to
 * in-process plugins only), and deleting a resource removes its rows from `/changes`; with the
 * Lua bridge, the host `inject`s deletions.
 */
export class ChangeFeed {
  private readonly subscribers = new Set<Subscriber>();
  private readonly remaining = new Map<number, number>();
  private readonly inFlight: number[] = [];
  private readonly idleWaiters = new Set<() => void>();
  private readonly stopController = new AbortController();
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly maxQueued: number;
  private since = 0;
  private completed = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private up = false;
  private prepared = false;
  private extendedChanges = false;
  private typeFilterRefused = false;
  /** A `/changes` page is being fetched: changes injected meanwhile wait until it is queued. */
  private fetching = false;
  private readonly injected: Change[] = [];
  private pollCount = 0;
  private pollErrorCount = 0;
  private lastPageDone = false;
  /** When the feed last stood at Orthanc's last change with every handler done (performance.now()). */
  private caughtUpAt = performance.now();
  private saving: Promise<void> = Promise.resolve();
  private saveFailing = false;
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ChangeFeedOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.pageSize = options.pageSize ?? 200;
    this.maxQueued = options.maxQueued ?? 1000;
  }

  /** Whether the last call to Orthanc succeeded. */
  get reachable(): boolean {
    return this.up;
  }

  /** `Seq` of the last change that every subscriber has finished. */
  get cursor(): number {
    return this.completed;
  }

  /** The longest queue of changes waiting for one subscriber. */
  get backlog(): number {
    let longest = 0;
    for (const subscriber of this.subscribers) longest = Math.max(longest, subscriber.queue.length);
    return longest;
  }

  /** Polls of `/changes` so far, and those that failed (for metrics). */
  get polls(): { total: number; failed: number } {
    return { total: this.pollCount, failed: this.pollErrorCount };
  }

  /**
   * How far behind Orthanc the feed is, in seconds: 0 while it has read Orthanc's last change and
   * every handler has finished it; otherwise the time since that was last true (it grows while
   * Orthanc is unreachable, or while a handler is slow).
   */
  get lagSeconds(): number {
    if (this.isCaughtUp()) this.caughtUpAt = performance.now();
    return (performance.now() - this.caughtUpAt) / 1000;
  }

  private isCaughtUp(): boolean {
    return this.up && this.lastPageDone && this.inFlight.length === 0 && this.isIdle();
  }

  /** Whether polls ask Orthanc only for the wanted change types (the 1.12.5+ fast path). */
  get filtersTypes(): boolean {
    return this.extendedChanges && this.wantedTypes() !== undefined;
  }

  /**
   * Adds a subscriber for `types` (all change types when absent); nothing else is queued for it.
   * Returns the function that removes it (its queued changes count as finished).
   */
  subscribe(
    owner: string,
    handler: (change: Change) => unknown,
    types?: readonly ChangeTypeValue[],
    options: { everyHost?: boolean } = {},
  ): () => void {
    const subscriber: Subscriber = {
      owner,
      types: types && new Set(types),
      handler,
      queue: [],
      running: false,
      claimed: options.everyHost !== true,
      watched: new Map(),
    };
    this.subscribers.add(subscriber);
    return () => {
      if (!this.subscribers.delete(subscriber)) return;
      for (const change of subscriber.queue.splice(0)) if (change.seq !== undefined) this.finish(change.seq);
      for (const seq of [...subscriber.watched.keys()]) this.finish(seq);
      subscriber.watched.clear();
    };
  }

  /**
   * Finds the starting point: the persisted cursor, or on the first run Orthanc's current last
   * change (waiting for Orthanc to answer). After this, the feed knows where it stands.
   */
  async prepare(signal?: AbortSignal): Promise<void> {
    const saved = await this.options.cursor.load();
    if (saved !== undefined) {
      this.since = this.completed = saved;
    } else {
      const backoff = new Backoff(250, 5000);
      for (;;) {
        try {
          const page = await this.options.connection.callJson<OrthancChangesPage>('GET', '/changes?last');
          this.since = this.completed = page.Last;
          await this.options.cursor.save(page.Last);
          break;
        } catch (error) {
          signal?.throwIfAborted();
          this.options.log.warning(`waiting for Orthanc at ${this.options.connection.url} to read the change feed: ${describe(error)}`);
          const stop = signal ? AbortSignal.any([this.stopController.signal, signal]) : this.stopController.signal;
          await sleep(backoff.next(), undefined, { signal: stop }).catch(() => undefined);
          signal?.throwIfAborted();
          if (this.stopController.signal.aborted) return;
        }
      }
    }
    this.prepared = true;
  }

  /**
   * Delivers a change that Orthanc signals only in its own process (`DELETED`, from the Lua
   * bridge) to the subscribers that want it, in order after every change already read from
   * `/changes`: a page being fetched is queued first, so that a resource deleted after a change
   * is never seen again after its deletion. Such changes have no `Seq` and are not persisted: a
   * deletion signalled while the host is down is not delivered.
   */
  inject(change: Omit<Change, 'seq'>): void {
    this.injected.push({ ...change });
    if (!this.fetching) this.deliverInjected();
  }

  private deliverInjected(): void {
    for (const change of this.injected.splice(0)) {
      for (const subscriber of this.subscribers) {
        if (subscriber.types && !subscriber.types.has(change.changeType)) continue;
        subscriber.queue.push(change);
        this.pump(subscriber);
      }
    }
  }

  /** Starts polling (after `prepare`). */
  start(): void {
    if (!this.prepared) throw new Error('ChangeFeed.prepare() must finish before start()');
    this.loop ??= this.run();
  }

  /** Stops polling, delivers ORTHANC_STOPPED, waits for the handlers and saves the cursor. */
  async stop(): Promise<void> {
    this.stopController.abort();
    clearTimeout(this.watchTimer);
    await this.loop;
    if (this.up) {
      this.up = false;
      this.broadcast(ChangeType.ORTHANC_STOPPED);
    }
    const drained = this.whenIdle();
    const timeoutMs = this.options.drainTimeoutMs ?? 30_000;
    const timedOut = await Promise.race([drained.then(() => false), sleep(timeoutMs, true, { ref: false })]);
    if (timedOut) this.options.log.warning(`change handlers still running after ${timeoutMs} ms; stopping without them`);
    await this.saveNow();
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    // At most 1 s between two tries while Orthanc is away: recipes (a scheduler's tasks, waiting
    // setups) resume within about a second of its return, for one cheap refused connection a second.
    const backoff = new Backoff(250, 1000);
    while (!signal.aborted) {
      if (this.backlogged()) {
        await Promise.race([this.whenRoom(), sleep(1000, undefined, { signal }).catch(() => undefined)]);
        continue;
      }
      let page: OrthancChangesPage;
      try {
        if (this.isCaughtUp()) this.caughtUpAt = performance.now();
        this.pollCount += 1;
        if (!this.up) await this.detectFeatures();
        this.fetching = true;
        page = await this.options.connection.callJson<OrthancChangesPage>('GET', this.pageUri());
      } catch (error) {
        this.fetching = false;
        this.deliverInjected();
        this.pollErrorCount += 1;
        if (this.extendedChanges && error instanceof OrthancHttpError && error.httpStatus === 400) {
          this.options.log.warning(`Orthanc refused /changes?type=, reading every change from now on: ${describe(error)}`);
          this.extendedChanges = false;
          this.typeFilterRefused = true;
          continue;
        }
        if (signal.aborted) break;
        if (this.up) {
          this.up = false;
          this.options.log.warning(`Orthanc became unreachable: ${describe(error)}`);
          this.broadcast(ChangeType.ORTHANC_STOPPED);
        }
        await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
        continue;
      }
      backoff.reset();
      if (!this.up) {
        this.up = true;
        this.broadcast(ChangeType.ORTHANC_STARTED);
      }
      this.lastPageDone = page.Done;
      this.accept(page);
      this.fetching = false;
      this.deliverInjected();
      if (page.Done) await sleep(this.pollIntervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Reads `/system` when Orthanc (re)appears: it may have been upgraded or replaced meanwhile. */
  private async detectFeatures(): Promise<void> {
    if (this.options.typeFilter === 'never' || this.typeFilterRefused) return;
    const system = await this.options.connection.callJson<{ Capabilities?: { HasExtendedChanges?: boolean } }>('GET', '/system');
    this.extendedChanges = system.Capabilities?.HasExtendedChanges === true;
  }

  /** The union of the subscribers' change types, as Orthanc names them; undefined for all. */
  private wantedTypes(): string[] | undefined {
    const wanted = new Set<string>();
    for (const subscriber of this.subscribers) {
      if (!subscriber.types) return undefined;
      for (const type of subscriber.types) {
        const name = orthancChangeTypeName.get(type);
        if (name) wanted.add(name);
      }
    }
    return [...wanted].sort();
  }

  private pageUri(): string {
    const uri = `/changes?since=${this.since}&limit=${this.pageSize}`;
    const types = this.extendedChanges ? this.wantedTypes() : undefined;
    // When no subscriber wants a change of Orthanc's (only ORTHANC_STARTED/STOPPED), ask for a type
    // that Orthanc never writes: the page is empty and its `Last` still moves the cursor on.
    return types === undefined ? uri : `${uri}&type=${types.length ? types.join(';') : 'AnonymizedStudy'}`;
  }

  private accept(page: OrthancChangesPage): void {
    if (page.Changes.length === 0 && page.Last < this.since) {
      // Orthanc's database was replaced (or `DELETE /changes`): its sequence starts again.
      this.options.log.warning(`Orthanc's last change is ${page.Last}, before the cursor ${this.since}: starting again from it`);
      this.since = page.Last;
      if (this.inFlight.length === 0) this.advanceTo(page.Last);
      return;
    }
    for (const raw of page.Changes) {
      this.since = Math.max(this.since, raw.Seq);
      const changeType = changeTypeFromOrthanc[raw.ChangeType];
      const resourceType = resourceTypeFromOrthanc[raw.ResourceType] ?? ResourceType.NONE;
      this.inFlight.push(raw.Seq);
      let count = 0;
      if (changeType !== undefined) {
        const change: Change = { changeType, resourceType, resourceId: raw.ID, seq: raw.Seq };
        for (const subscriber of this.subscribers) {
          if (subscriber.types && !subscriber.types.has(changeType)) continue;
          count += 1;
          subscriber.queue.push(change);
        }
      } else {
        this.options.log.debug(`ignoring change type ${raw.ChangeType} (Seq ${raw.Seq})`);
      }
      this.remaining.set(raw.Seq, count);
      if (count === 0) this.finish(raw.Seq, 0);
    }
    for (const subscriber of this.subscribers) this.pump(subscriber);
    if (page.Changes.length === 0) {
      // Rows of deleted resources vanish from /changes, so an empty page may end past `since`.
      this.since = Math.max(this.since, page.Last);
      if (this.inFlight.length === 0) this.advanceTo(Math.max(this.completed, page.Last));
    }
  }

  private broadcast(changeType: ChangeTypeValue): void {
    for (const subscriber of this.subscribers) {
      if (subscriber.types && !subscriber.types.has(changeType)) continue;
      subscriber.queue.push({ changeType, resourceType: ResourceType.NONE, resourceId: '' });
      this.pump(subscriber);
    }
  }

  private pump(subscriber: Subscriber): void {
    if (subscriber.running || subscriber.queue.length === 0) return;
    subscriber.running = true;
    void (async () => {
      let change: Change | undefined;
      while ((change = subscriber.queue.shift()) !== undefined) {
        const claims = subscriber.claimed && change.seq !== undefined ? this.options.claims : undefined;
        const verdict = claims ? await this.claim(claims, subscriber, change.seq!) : 'mine';
        if (verdict === 'held') {
          subscriber.watched.set(change.seq!, change);
          this.watch();
          continue;
        }
        if (verdict === 'stopped') continue; // not finished: the cursor stays before it
        if (verdict === 'mine') await this.handle(subscriber, change);
        if (claims && verdict === 'mine' && !(await this.complete(claims, subscriber, change.seq!))) continue;
        if (change.seq !== undefined) this.finish(change.seq);
        if (this.idleWaiters.size > 0) this.notifyIdle();
      }
      subscriber.running = false;
      this.notifyIdle();
    })();
  }

  private async handle(subscriber: Subscriber, change: Change): Promise<void> {
    try {
      await subscriber.handler(change);
    } catch (error) {
      const fields = {
        recipe: subscriber.owner,
        changeType: changeTypeName(change.changeType),
        resourceType: resourceTypeName(change.resourceType),
        resourceId: change.resourceId,
        seq: change.seq,
      };
      this.options.log.error(
        `recipe ${subscriber.owner}: change handler failed on ${fields.changeType} ${fields.resourceType} ${change.resourceId}: ${describe(error)}`,
        fields,
      );
    }
  }

  /**
   * Claims a change, trying again while the database does not answer; `stopped` when the feed
   * stops meanwhile (the change stays unfinished: the cursor stays before it).
   */
  private async claim(claims: ChangeClaims, subscriber: Subscriber, seq: number): Promise<ChangeClaim | 'stopped'> {
    const backoff = new Backoff(250, 5000);
    for (let failures = 0; ; failures += 1) {
      try {
        return await claims.claim(subscriber.owner, seq);
      } catch (error) {
        if (this.stopController.signal.aborted) return 'stopped';
        if (failures === 0)
          this.options.log.warning(
            `recipe ${subscriber.owner}: cannot claim change ${seq} (${describe(error)}); trying again until the state database answers`,
          );
        await sleep(backoff.next(), undefined, { signal: this.stopController.signal }).catch(() => undefined);
      }
    }
  }

  /** Records a handled change as done; false when the feed stopped first (the claim then expires, and the change is handled again). */
  private async complete(claims: ChangeClaims, subscriber: Subscriber, seq: number): Promise<boolean> {
    const backoff = new Backoff(250, 5000);
    for (let failures = 0; ; failures += 1) {
      try {
        await claims.complete(subscriber.owner, seq);
        return true;
      } catch (error) {
        if (this.stopController.signal.aborted) return false;
        if (failures === 0)
          this.options.log.warning(`recipe ${subscriber.owner}: cannot record change ${seq} as handled (${describe(error)}); trying again`);
        await sleep(backoff.next(), undefined, { signal: this.stopController.signal }).catch(() => undefined);
      }
    }
  }

  /** Checks the changes other hosts hold, every `checkIntervalMs` while there are some. */
  private watch(): void {
    const claims = this.options.claims;
    if (!claims || this.watchTimer || this.stopController.signal.aborted) return;
    this.watchTimer = setTimeout(() => {
      void this.checkWatched(claims)
        .catch((error: unknown) => this.options.log.error('checking the changes other hosts hold failed', { error: describe(error) }))
        .finally(() => {
          this.watchTimer = undefined;
          if ([...this.subscribers].some((subscriber) => subscriber.watched.size > 0)) this.watch();
        });
    }, claims.checkIntervalMs);
  }

  /** One look at the changes other hosts hold: the finished ones are done, the expired ones taken over. Never throws. */
  private async checkWatched(claims: NonNullable<typeof this.options.claims>): Promise<void> {
    for (const subscriber of this.subscribers) {
      if (subscriber.watched.size === 0) continue;
      let verdicts: Map<number, 'done' | 'held' | 'expired'>;
      try {
        verdicts = await claims.check(subscriber.owner, [...subscriber.watched.keys()]);
      } catch (error) {
        this.options.log.debug(`checking changes held by other hosts failed: ${describe(error)}`);
        continue;
      }
      const expired: Change[] = [];
      for (const [seq, verdict] of verdicts) {
        const change = subscriber.watched.get(seq);
        if (!change || verdict === 'held') continue;
        subscriber.watched.delete(seq);
        if (verdict === 'done') this.finish(seq);
        else expired.push(change);
      }
      if (expired.length > 0) {
        this.options.log.info(`recipe ${subscriber.owner}: taking over ${expired.length} change(s) whose host stopped renewing its claim`);
        subscriber.queue.unshift(...expired);
        this.pump(subscriber);
      }
    }
  }

  private finish(seq: number, by = 1): void {
    const left = (this.remaining.get(seq) ?? 0) - by;
    if (left > 0) {
      this.remaining.set(seq, left);
      return;
    }
    this.remaining.delete(seq);
    let advanced: number | undefined;
    while (this.inFlight.length > 0 && !this.remaining.has(this.inFlight[0]!)) advanced = this.inFlight.shift();
    if (advanced !== undefined) this.advanceTo(advanced);
  }

  private advanceTo(seq: number): void {
    if (seq === this.completed) return;
    this.completed = seq;
    this.saveTimer ??= setTimeout(() => void this.saveNow(), 100);
  }

  /** Saves the cursor after the saves before it (a later value is never overwritten by an earlier one). */
  private saveNow(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const seq = this.completed;
    this.saving = this.saving.then(async () => {
      try {
        await this.options.cursor.save(seq);
        if (this.saveFailing) this.options.log.info(`the change cursor is saved again (${seq})`);
        this.saveFailing = false;
      } catch (error) {
        if (!this.saveFailing) this.options.log.warning(`cannot save the change cursor (${describe(error)}); trying again every second`);
        this.saveFailing = true;
        if (!this.stopController.signal.aborted) this.saveTimer ??= setTimeout(() => void this.saveNow(), 1000);
      }
    });
    return this.saving;
  }

  private backlogged(): boolean {
    for (const subscriber of this.subscribers) if (subscriber.queue.length >= this.maxQueued) return true;
    return false;
  }

  private isIdle(): boolean {
    for (const subscriber of this.subscribers) if (subscriber.running || subscriber.queue.length > 0) return false;
    return true;
  }

  private whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!this.isIdle()) return;
        this.idleWaiters.delete(check);
        resolve();
      };
      this.idleWaiters.add(check);
    });
  }

  private whenRoom(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.backlogged()) return;
        this.idleWaiters.delete(check);
        resolve();
      };
      this.idleWaiters.add(check);
    });
  }

  private notifyIdle(): void {
    for (const waiter of [...this.idleWaiters]) waiter();
  }
}
