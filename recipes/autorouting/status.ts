import type { Options } from './options.generated.js';
import type { Ledger, Route } from './ledger.js';
import type { Pruner } from './prune.js';
import type { Sender } from './sender.js';
import type { Sweeper } from './sweep.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
const listed = 100;

const describeRoute = (route: Route) => ({
  Resource: route.resource_id,
  Level: route.level,
  LastUpdate: route.last_update,
  Destination: route.destination,
  Attempts: Number(route.attempts),
  LastError: route.last_error,
  JobId: route.job_id,
  Host: route.holder ?? null,
  Updated: iso(route.updated_at),
});

/**
 * The answer of `GET /recipes/autorouting/status`: counts per state, what is in flight, what waits
 * for a retry, what failed (with errors and attempts), what was cancelled (with the reason) and
 * what no rule matched (at most 100 of each), and the resources delivered per minute over the
 * last hour (oldest minute first).
 */
export async function statusOf(ledger: Ledger, sender: Sender, sweeper: Sweeper, pruner: Pruner, options: Options, routingSince: string) {
  const counts = { pending: 0, sending: 0, succeeded: 0, failed: 0, gone: 0, cancelled: 0, ...(await ledger.routeCounts()) };
  const decisions = { routed: 0, unmatched: 0, 'dry-run': 0, ...(await ledger.decisionCounts()) };
  const waiting = await ledger.routesIn(['pending'], listed, ' AND attempts > 0');
  const duplicates = await ledger.possibleDuplicates();
  return {
    DryRun: options.DryRun,
    DeleteAfterRouting: options.DeleteAfterRouting,
    RoutingSince: routingSince || null,
    Routes: {
      Pending: counts.pending,
      Sending: counts.sending,
      Succeeded: counts.succeeded,
      Failed: counts.failed,
      Gone: counts.gone,
      Cancelled: counts.cancelled,
    },
    // Routes sent again because the host sending them died, and jobs that ran while their Orthanc
    // went away (resumed from a checkpoint, or sent again): each may have arrived twice.
    RetriedAfterTakeover: duplicates.takeovers,
    InterruptedByOrthancOutage: duplicates.interrupted,
    // Jobs that failed after sending part of their resource: Orthanc has no way to send only the
    // rest, so the route is sent again whole and that part arrives twice.
    RetriedAfterPartialFailure: duplicates.partialFailures,
    Resources: { Routed: decisions.routed, Unmatched: decisions.unmatched, DryRun: decisions['dry-run'] },
    JobsInFlight: sender.inFlight(),
    InFlight: (await ledger.routesIn(['sending'], listed)).map(describeRoute),
    Retrying: waiting.map((route) => ({ ...describeRoute(route), NextAttempt: iso(route.next_attempt_at) })),
    Failures: (await ledger.routesIn(['failed'], listed)).map(describeRoute),
    // LastError holds the reason (no longer in the rules, or Orthanc no longer knows it).
    Cancelled: (await ledger.routesIn(['cancelled'], listed)).map(describeRoute),
    RoutedPerMinute: await ledger.routedPerMinute(Date.now()),
    Unmatched: (await ledger.latestDecisions('unmatched', listed)).map((d) => ({
      Resource: d.resource_id,
      Level: d.level,
      LastUpdate: d.last_update,
      Decided: iso(d.decided_at),
    })),
    Prune: {
      KeepFinishedRoutesDays: options.KeepFinishedRoutesDays,
      LastFinished: pruner.lastFinished?.toISOString() ?? null,
      LastPruned: { Routes: pruner.lastPruned.routes, Decisions: pruner.lastPruned.decisions },
    },
    Sweep: {
      Running: sweeper.isRunning,
      LastStarted: sweeper.lastStarted?.toISOString() ?? null,
      LastFinished: sweeper.lastFinished?.toISOString() ?? null,
      LastError: sweeper.lastError ?? null,
    },
  };
}
