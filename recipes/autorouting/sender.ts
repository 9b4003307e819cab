import { setTimeout as sleep } from 'node:timers/promises';
import {
  Backoff,
  OrthancHttpError,
  OrthancUnreachableError,
  describe,
  isNotFound,
  type LogFields,
  type Logger,
  type OrthancBinding,
} from '../../shared/binding/index.js';
import type { PeerOrthanc } from '../../shared/cluster.js';
import { parseDestinationKey, storeRequest } from './destinations.js';
import type { Ledger, Route } from './ledger.js';
import type { RoutingMetrics } from './metrics.js';
import { levelPath } from '../../shared/orthanc-resources.js';

export interface SenderOptions {
  orthanc: OrthancBinding;
  ledger: Ledger;
  log: Logger;
  signal: AbortSignal;
  /** Every destination key the rules name. */
  destinations: string[];
  jobsPerDestination: number;
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Called once a route succeeded (for DeleteAfterRouting). */
  onSucceeded?: (route: Route) => Promise<void>;
  /** Called when Orthanc answered 404 to a send while the resource exists: Orthanc may no longer know the destination. */
  onDestinationMissing?: (destination: string) => void;
  /** issue 18: attempts and delivery latency, for GET /recipes/metrics. */
  metrics?: RoutingMetrics;
  /** This host, as the routes' claims name it, and how long a claim lasts without being renewed. */
  hostId: string;
  leaseMs: number;
  /** The Orthanc beside another host of the cluster (`ctx.cluster.peerOrthanc`): a job taken over is followed there. */
  peerOrthanc?: (hostId: string) => Promise<PeerOrthanc | undefined>;
}

/** `interrupted`: Orthanc was unreachable while the job ran (it may resume the job from a checkpoint, sending some instances again). */
/** `partial`: the job failed after sending part of the resource (its `Progress` above 0): sent again, that part arrives twice. */
type JobOutcome = ({ kind: 'success' } | { kind: 'failure'; error: string; partial: boolean } | { kind: 'vanished' }) & {
  interrupted?: boolean;
};

interface Job {
  State: string;
  /** Percent of the job's commands done (for a store job: its instances sent). */
  Progress?: number;
  ErrorCode?: number;
  ErrorDescription?: string;
  ErrorDetails?: string;
}

/**
 * Sends the ledger's pending routes through Orthanc's jobs engine and follows each job to its end.
 * Each destination has its own lane (at most `jobsPerDestination` jobs in flight), so a destination
 * that fails never holds back another. While a destination fails, its lane sends one route at a
 * time (a probe) until one succeeds, rather than burning every route's attempts at once.
 */
export class Sender {
  private readonly lanes = new Map<string, { inFlight: Set<string>; failing: boolean }>();
  /** Destinations of the rules: only their lanes look for due routes. */
  private readonly configured: Set<string>;
  /** Destinations not to send to, with the reason (no longer in the rules, or Orthanc no longer knows them). */
  private unavailable = new Map<string, string>();
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private closed = false;

  constructor(private readonly options: SenderOptions) {
    for (const destination of options.destinations) this.lanes.set(destination, { inFlight: new Set(), failing: false });
    this.configured = new Set(options.destinations);
  }

  /**
   * The destinations that cannot be sent to now, with the reason. Their lanes stop looking for
   * due routes; a job already accepted is still followed, and if it fails its route is cancelled
   * with the reason instead of retried.
   */
  setUnavailable(reasons: Map<string, string>): void {
    this.unavailable = reasons;
    for (const destination of reasons.keys()) {
      const lane = this.lanes.get(destination);
      if (lane) lane.failing = false;
    }
    this.kick();
  }

  /** Why a destination cannot be sent to; undefined when it can. */
  unavailableReason(destination: string): string | undefined {
    return this.configured.has(destination) ? this.unavailable.get(destination) : `${destination} is no longer a destination of the rules`;
  }

  /**
   * Starts sending; the first look claims the routes that a previous run left in flight (their
   * jobs are followed), with those of destinations the rules no longer name.
   */
  async start(): Promise<void> {
    const leftovers = await this.options.ledger.releaseLeftovers(this.options.hostId);
    if (leftovers > 0)
      this.options.log.warning(
        "routes claimed by this host's previous run and not recorded as sent are sent again (each may arrive twice; counted in RetriedAfterTakeover)",
        { routes: leftovers },
      );
    for (const route of await this.options.ledger.sending()) this.lane(route.destination);
    this.kick();
  }

  /** Extends this host's leases on its routes, and looks for routes whose host stopped renewing its own. */
  async renewLeases(): Promise<void> {
    await this.options.ledger.renew(this.options.hostId, Date.now(), this.options.leaseMs);
    this.kick();
  }

  /** What is in flight now, per destination. */
  inFlight(): Record<string, number> {
    return Object.fromEntries([...this.lanes].map(([destination, lane]) => [destination, lane.inFlight.size]));
  }

  /** Looks for due routes (soon, once, however many times it is called). */
  kick(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        try {
          await this.pump();
        } catch (error) {
          // pump() did not get to arm its wake-up timer: look again after the initial delay.
          this.options.log.error('reading the ledger failed; looking again later', {
            error: describe(error),
            delayMs: this.options.initialDelayMs,
          });
          clearTimeout(this.timer);
          if (!this.closed) this.timer = setTimeout(() => this.kick(), this.options.initialDelayMs);
        }
      } while (this.pumpAgain && !this.closed);
      this.pumping = undefined;
    })();
  }

  private lane(destination: string) {
    let lane = this.lanes.get(destination);
    if (!lane) this.lanes.set(destination, (lane = { inFlight: new Set(), failing: false }));
    return lane;
  }

  private async pump(): Promise<void> {
    const now = Date.now();
    let wake = Infinity;
    for (const [destination, lane] of this.lanes) {
      if (this.unavailableReason(destination) !== undefined) continue;
      const room = (lane.failing ? 1 : this.options.jobsPerDestination) - lane.inFlight.size;
      if (room > 0) {
        const due = await this.options.ledger.claim(destination, this.options.hostId, now, this.options.leaseMs, room + lane.inFlight.size);
        for (const route of due.filter((r) => !lane.inFlight.has(routeKey(r))).slice(0, room)) {
          lane.inFlight.add(routeKey(route));
          this.track(this.deliver(route, lane));
        }
      }
      const next = await this.options.ledger.nextDue(destination);
      if (next !== undefined && next > now) wake = Math.min(wake, next);
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (wake !== Infinity && !this.closed) this.timer = setTimeout(() => this.kick(), Math.max(0, wake - Date.now()) + 5);
  }

  private track(work: Promise<void>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  /** One route, from its current state to its next resting state. Never throws. */
  private async deliver(route: Route, lane: { inFlight: Set<string>; failing: boolean }): Promise<void> {
    const { orthanc, ledger, log } = this.options;
    const destination = parseDestinationKey(route.destination);
    const fields = routeFields(route);
    let attempts = route.attempts;
    try {
      let jobId = route.state === 'sending' && !route.taken_from ? route.job_id : null;
      let outcome: JobOutcome | undefined;
      if (route.taken_from) {
        // Taken over from a host that stopped renewing its claim: its job, if it had one, ran on
        // that host's Orthanc. Followed there when that Orthanc answers; otherwise sent again.
        outcome = await this.followElsewhere(route, fields);
        if (this.closed) return;
        if (outcome) {
          jobId = route.job_id;
        } else {
          log.warning('route taken over from a host that stopped renewing its claim; sending again (it may arrive twice)', {
            ...fields,
            fromHost: route.taken_from,
          });
          await this.durably('counting the takeover', fields, () => ledger.countTakeover(route).then(() => true));
        }
      }
      if (!outcome) {
        if (jobId) {
          log.info('following a job left in flight by the previous run', { ...fields, jobId });
        } else {
          attempts += 1;
          const { uri, body } = storeRequest(destination, route.resource_id);
          const accepted = await orthanc.restApiPostJson<{ ID: string }>(uri, body);
          jobId = accepted.ID;
          // The job runs now: a state database that does not answer must not make it be sent again.
          const recorded = await this.durably('recording the job', { ...fields, jobId }, () => ledger.markSending(route, jobId!, attempts));
          if (recorded === undefined) return;
          if (!recorded) return this.lostClaim({ ...fields, jobId }, 'its job was accepted');
          log.debug('sending', { ...fields, jobId, attempt: attempts });
        }
        outcome = await this.follow(jobId, (uri) => orthanc.restApiGetJson<Job>(uri));
      }
      if (outcome === undefined) return; // Closing: the route stays `sending`; the next run follows the job.
      if (outcome.interrupted || outcome.kind === 'vanished') await ledger.countInterrupted(route).catch(() => undefined);
      if (outcome.kind === 'failure' && outcome.partial) await ledger.countPartialFailure(route).catch(() => undefined);
      if (outcome.kind === 'success') {
        const recorded = await this.durably('recording the success', fields, () => ledger.markSucceeded(route));
        if (recorded === undefined) return;
        if (!recorded) return this.lostClaim({ ...fields, jobId }, 'its job succeeded');
        this.options.metrics?.attempt('succeeded'); // issue 18: metrics
        this.options.metrics?.delivered(route); // issue 18: metrics
        lane.failing = false;
        log.info('sent', { ...fields, jobId, attempt: attempts });
        await this.options.onSucceeded?.(route);
      } else if (
        await this.cancelled(route, outcome.kind === 'failure' ? `job ${jobId} failed: ${outcome.error}` : `job ${jobId} vanished`)
      ) {
        // The destination went away while its job ran: nothing to retry until it is back.
      } else if (outcome.kind === 'vanished') {
        // Orthanc keeps only JobsHistorySize finished jobs: the outcome is unknown, so send again.
        this.options.metrics?.attempt('vanished'); // issue 18: metrics
        await ledger.markPending(
          route,
          attempts - 1,
          Date.now(),
          `job ${jobId} vanished from Orthanc's jobs history before its outcome was read; sending again`,
        );
        log.warning("job vanished from Orthanc's jobs history before its outcome was read; sending again", { ...fields, jobId });
      } else {
        this.options.metrics?.attempt('failed'); // issue 18: metrics
        await this.failed(route, lane, attempts, `job ${jobId} failed: ${outcome.error}`);
      }
    } catch (error) {
      if (this.closed) return;
      try {
        if (error instanceof OrthancUnreachableError) {
          // Not the destination's fault: no attempt is counted; try again after a pause.
          this.options.metrics?.attempt('orthanc-unreachable'); // issue 18: metrics
          await ledger.markPending(route, route.attempts, Date.now() + this.options.initialDelayMs, describe(error));
        } else if (isNotFound(error) && (await this.isGone(route))) {
          await ledger.markGone(route);
          log.warning('the resource was deleted before it was sent', fields);
        } else if (!(await this.cancelled(route, describe(error)))) {
          this.options.metrics?.attempt('failed'); // issue 18: metrics
          await this.failed(route, lane, attempts, describe(error));
          // The resource exists, so the 404 is the destination's: Orthanc may have forgotten it.
          if (isNotFound(error)) this.options.onDestinationMissing?.(route.destination);
        }
      } catch (inner) {
        log.error('could not record the outcome; the route will be sent again', { ...fields, error: describe(inner) });
      }
    } finally {
      await ledger
        .release(route, this.options.hostId)
        .catch((error: unknown) => log.debug('releasing the claim failed; it expires', { ...fields, error: describe(error) }));
      lane.inFlight.delete(routeKey(route));
      this.kick();
    }
  }

  /** Cancels the route when its destination is unavailable; resolves with whether it did. */
  private async cancelled(route: Route, error: string): Promise<boolean> {
    const reason = this.unavailableReason(route.destination);
    if (reason === undefined) return false;
    await this.options.ledger.markCancelled(route, reason);
    this.options.log.warning('route cancelled', { ...routeFields(route), reason, error });
    return true;
  }

  /**
   * Writes to the ledger, again and again while the state database does not answer; resolves with
   * what the write did (false: the claim was lost), or undefined when closing first.
   */
  private async durably(step: string, fields: LogFields, write: () => Promise<boolean>): Promise<boolean | undefined> {
    const backoff = new Backoff(250, 5000);
    for (let failures = 0; !this.closed; failures += 1) {
      try {
        const applied = await write();
        if (failures > 0) this.options.log.info('ledger written after failures', { ...fields, step, failures });
        return applied;
      } catch (error) {
        if (failures === 0)
          this.options.log.warning('ledger write failed; trying again until the state database answers', {
            ...fields,
            step,
            error: describe(error),
          });
        await this.pause(backoff.next());
      }
    }
    return undefined;
  }

  /** This host's lease on the route expired and another host took it over: the route is that host's now. */
  private lostClaim(fields: LogFields, happened: string): void {
    this.options.log.warning(
      `${happened}, but another host took the route over meanwhile (this host's lease expired); it is that host's now`,
      fields,
    );
  }

  private async failed(route: Route, lane: { failing: boolean }, attempts: number, error: string): Promise<void> {
    const fields = routeFields(route);
    lane.failing = true;
    if (attempts >= this.options.maxAttempts) {
      await this.options.ledger.markFailed(route, attempts, error);
      this.options.log.error('giving up until retried (POST /recipes/autorouting/retry)', { ...fields, attempts, error });
      return;
    }
    const backoff = new Backoff(this.options.initialDelayMs, this.options.maxDelayMs);
    let delay = 0;
    for (let n = 0; n < attempts; n += 1) delay = backoff.next();
    await this.options.ledger.markPending(route, attempts, Date.now() + delay, error);
    this.options.log.warning('attempt failed; trying again', {
      ...fields,
      attempt: attempts,
      maxAttempts: this.options.maxAttempts,
      delaySeconds: Number((delay / 1000).toFixed(1)),
      error,
    });
  }

  private async isGone(route: Route): Promise<boolean> {
    try {
      await this.options.orthanc.restApiGet(`/${levelPath[route.level]}/${route.resource_id}`);
      return false;
    } catch (error) {
      return isNotFound(error);
    }
  }

  /**
   * Polls `/jobs/{id}` until Success or Failure (acceptance is not success). The pause between
   * two polls is a quarter of the job's age (10 ms to 1 s): a small study to a near destination
   * takes tens of milliseconds, and its lane's slot is free again within a few more, while a long
   * transfer costs one request a second. Orthanc being unreachable meanwhile only pauses the
   * polling. Undefined when the recipe closes first.
   */
  private async follow(jobId: string, read: (uri: string) => Promise<Job>, elsewhere = false): Promise<JobOutcome | undefined> {
    const since = Date.now();
    const reconnect = new Backoff(250, 5000);
    let interrupted = false;
    while (!this.closed) {
      let job: Job;
      try {
        job = await read(`/jobs/${encodeURIComponent(jobId)}`);
        reconnect.reset();
      } catch (error) {
        if (isNotFound(error)) return { kind: 'vanished', interrupted };
        // Another host's Orthanc that does not answer is not waited for: the route is sent again.
        if (elsewhere) return { kind: 'vanished', interrupted: true };
        // 503: Orthanc's database is away (PostgreSQL restarting): the job is still Orthanc's to finish.
        if (!(error instanceof OrthancUnreachableError) && !(error instanceof OrthancHttpError && error.httpStatus === 503)) throw error;
        interrupted = true;
        await this.pause(reconnect.next());
        continue;
      }
      if (job.State === 'Success') return { kind: 'success', interrupted };
      if (job.State === 'Failure') {
        const details = job.ErrorDetails ? `: ${job.ErrorDetails}` : '';
        return {
          kind: 'failure',
          error: `${job.ErrorDescription ?? `error ${job.ErrorCode}`}${details}`,
          partial: (job.Progress ?? 0) > 0,
          interrupted,
        };
      }
      await this.pause(Math.min(1000, Math.max(10, (Date.now() - since) / 4)));
    }
    return undefined;
  }

  /**
   * Follows, on the Orthanc beside the host it was taken over from, the job that host recorded:
   * its outcome, or undefined when it cannot be read there (no job recorded, that Orthanc unknown
   * or not answering, the job not in its memory: Orthanc keeps jobs in its own memory, never in
   * the shared index), and the route must be sent again.
   */
  private async followElsewhere(route: Route, fields: LogFields): Promise<JobOutcome | undefined> {
    if (route.state !== 'sending' || !route.job_id || !route.taken_from || !this.options.peerOrthanc) return undefined;
    let peer: PeerOrthanc | undefined;
    try {
      peer = await this.options.peerOrthanc(route.taken_from);
    } catch (error) {
      this.options.log.debug('cannot find the Orthanc of the host the route was taken over from', {
        ...fields,
        fromHost: route.taken_from,
        error: describe(error),
      });
    }
    if (!peer) return undefined;
    try {
      const outcome = await this.follow(route.job_id, (uri) => peer.getJson<Job>(uri), true);
      if (outcome === undefined || outcome.kind === 'vanished') return undefined;
      this.options.log.info("route taken over; its job followed on the other host's Orthanc instead of sending again", {
        ...fields,
        fromHost: route.taken_from,
        jobId: route.job_id,
        orthanc: peer.url,
        outcome: outcome.kind,
      });
      return outcome;
    } finally {
      await peer.close().catch(() => undefined);
    }
  }

  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.options.signal }).catch(() => undefined);
  }

  /** Stops sending; jobs in Orthanc keep running, and their routes stay `sending` for the next run. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.pumping;
    await Promise.allSettled([...this.running]);
  }
}

const routeKey = (route: Route) => `${route.resource_id}|${route.last_update}`;

/** A route's log fields: which resource goes where, `{ study: '<Orthanc ID>', destination }` (never a patient's ID). */
export function routeFields(route: Pick<Route, 'level' | 'resource_id' | 'destination'>): LogFields {
  return { ...resourceField(route.level, route.resource_id), destination: route.destination };
}

/**
 * A resource as a log field named after its level, `{ study: '<Orthanc ID>' }` (the logger keeps
 * `level` for the line's own level).
 */
export function resourceField(level: string, id: string): LogFields {
  return { [level.toLowerCase()]: id };
}
