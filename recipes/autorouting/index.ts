import { ChangeType, describe, type ChangeTypeName, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { checkDicomFilter, compileDicomFilter, type FilterLookup } from '../../shared/dicom-match.js';
import { defineRecipe, RecipeHttpError, RecipeOptionsError, type OptionsIssue, type RecipeContext } from '../../shared/recipe.js';
import { escapePointer } from '../../shared/validate.js';
import { checkDestinations, parseDestinationKey, storeRequest, toDestination, unknownDestinations } from './destinations.js';
import { Ledger, type Route } from './ledger.js';
import { createRoutingMetrics } from './metrics.js';
import type { Options } from './options.generated.js';
import { prunedBeforeSetting, Pruner } from './prune.js';
import { shiftOrthancTime, type ExpandedResource } from '../../shared/orthanc-resources.js';
import { deleteInstances, describeResource, instancesOf, type Level } from './resources.js';
import { resourceField, Sender } from './sender.js';
import { statusOf } from './status.js';
import { Sweeper } from './sweep.js';
import schema from './schema.json' with { type: 'json' };

const trigger: Record<Level, ChangeTypeName> = { Study: 'STABLE_STUDY', Series: 'STABLE_SERIES', Instance: 'NEW_INSTANCE' };

interface CompiledRule {
  name: string;
  level: Level;
  matches: (lookup: FilterLookup) => boolean;
  destinations: string[];
}

/**
 * The seed sample "Auto-routing studies", made lossless: every decision and every send is in a
 * durable ledger before it is trusted, jobs are followed to their end, failures are retried with
 * back-off, and a sweep catches what the change feed cannot deliver.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'autorouting',
    title: 'Auto-routing',
    description:
      'Sends stable studies (or series, or instances) that match rules to DICOM modalities, Orthanc peers or DICOMweb servers, and never loses one.',
    category: 'Routing',
    routes: ['GET /recipes/autorouting/status', 'POST /recipes/autorouting/retry'],
    events: ['STABLE_STUDY', 'STABLE_SERIES', 'NEW_INSTANCE', 'ORTHANC_STARTED'],
    destructive: true,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#auto-routing-studies',
  },
  schema,
  check(options) {
    const issues: OptionsIssue[] = [];
    options.Rules.forEach((rule, r) => {
      for (const problem of checkDicomFilter(rule.Filter))
        issues.push({ pointer: `/Rules/${r}/Filter/${escapePointer(problem.key)}`, message: problem.message });
    });
    const levels = [...new Set(options.Rules.map((rule) => rule.Level))];
    if (options.DeleteAfterRouting && levels.length > 1) {
      // Deleting a study once its study-level routes succeed would lose its series' or instances'
      // routes still to come (and the other way round).
      issues.push({
        pointer: '/DeleteAfterRouting',
        message: `cannot be true when the rules route more than one level (${levels.join(', ')}): deleting one level would lose the routes of the other`,
      });
    }
    if (options.Retry.InitialDelaySeconds > options.Retry.MaxDelaySeconds) {
      issues.push({ pointer: '/Retry/InitialDelaySeconds', message: `must not exceed MaxDelaySeconds (${options.Retry.MaxDelaySeconds})` });
    }
    return issues;
  },
  // `validate --online`: the same check as at setup.
  checkOnline: (options, { orthanc }) => checkDestinations(orthanc, options.Rules),
  async setup(ctx, options) {
    const issues = await checkDestinations(ctx.orthanc, options.Rules);
    if (issues.length > 0) throw new RecipeOptionsError(issues);
    return startRouting(ctx, options);
  },
});

async function startRouting({ orthanc, log, database, signal, metrics, cluster }: RecipeContext, options: Options) {
  const rules: CompiledRule[] = options.Rules.map((rule, r) => ({
    name: rule.Name || `Rules/${r}`,
    level: rule.Level,
    matches: compileDicomFilter(rule.Filter),
    destinations: [...new Set(rule.Destinations.map((d) => toDestination(d).key))],
  }));
  const levels = [...new Set(rules.map((rule) => rule.level))];
  const filterKeys = (level: Level) =>
    new Set(options.Rules.filter((rule) => rule.Level === level).flatMap((rule) => Object.keys(rule.Filter)));
  const keysByLevel = Object.fromEntries(levels.map((level) => [level, filterKeys(level)])) as Record<Level, Set<string>>;
  const ledger = new Ledger(database);
  await ledger.open();
  const routingMetrics = createRoutingMetrics(metrics, ledger); // issue 18: metrics
  // The first start draws a line: what was stable before it is the archive, not new work (the
  // change feed also starts from Orthanc's last change). Later starts keep that line. It lies
  // FirstStartMarginSeconds back, so that a resource still unstable at the first start (its
  // Stable change comes after) is within the sweep's reach if its one decision fails.
  const orthancNow = async () => (await orthanc.restApiGet('/tools/now')).toString('utf8').trim();
  const now = await orthancNow();
  const line = options.RouteExistingOnFirstStart ? '' : shiftOrthancTime(now, -options.FirstStartMarginSeconds) || now;
  const routingSince = await ledger.settingOnce('RoutingSince', line);

  /**
   * Deletes the instances a decision covered once every route of it succeeded: exactly those, never
   * the whole resource, so that an instance stored meanwhile survives (and is routed in turn).
   */
  const deleteIfDone = async (route: Pick<Route, 'resource_id' | 'last_update' | 'level'>) => {
    if (!options.DeleteAfterRouting || options.DryRun) return;
    const states = await ledger.routeStates(route.resource_id, route.last_update);
    if (states.length === 0 || !states.every((state) => state === 'succeeded')) return;
    const instances = await ledger.coveredInstances(route.resource_id, route.last_update);
    // Decided while DeleteAfterRouting was off (no list), or deleted already.
    if (!instances) return;
    await deleteInstances(orthanc, instances);
    await ledger.markDeleted(route.resource_id, route.last_update);
    log.info('deleted the instances every destination received', {
      ...resourceField(route.level, route.resource_id),
      lastUpdate: route.last_update,
      instances: instances.length,
    });
  };

  const sender = new Sender({
    orthanc,
    ledger,
    log,
    signal,
    destinations: [...new Set(rules.flatMap((rule) => rule.destinations))],
    jobsPerDestination: options.JobsPerDestination,
    maxAttempts: options.Retry.MaxAttempts,
    initialDelayMs: options.Retry.InitialDelaySeconds * 1000,
    maxDelayMs: options.Retry.MaxDelaySeconds * 1000,
    metrics: routingMetrics,
    onSucceeded: (route) =>
      deleteIfDone(route).catch((error) =>
        log.error('deleting after routing failed', { ...resourceField(route.level, route.resource_id), error: describe(error) }),
      ),
    onDestinationMissing: () => void reconcile(),
    hostId: cluster?.hostId ?? 'this-host',
    leaseMs: cluster?.leaseMs ?? 15_000,
    peerOrthanc: cluster?.shared ? (hostId) => cluster.peerOrthanc(hostId) : undefined,
  });

  /**
   * Cancels the routes (pending or failed) of destinations that are no longer configured (gone
   * from the rules, or from Orthanc's modalities, peers or DICOMweb servers), with the reason,
   * and makes cancelled routes pending again when their destination is back. At start, with
   * every sweep, and when Orthanc answers 404 to a send.
   */
  const ruleDestinations = new Set(rules.flatMap((rule) => rule.destinations));
  let reconciling: Promise<void> | undefined;
  const reconcile = (): Promise<void> =>
    options.DryRun
      ? Promise.resolve()
      : (reconciling ??= (async () => {
          try {
            sender.setUnavailable(await unknownDestinations(orthanc, ruleDestinations));
            let restored = 0;
            for (const destination of await ledger.destinationsIn(['pending', 'failed', 'cancelled'])) {
              const reason = sender.unavailableReason(destination);
              if (reason === undefined) {
                const count = await ledger.uncancel(destination);
                if (count > 0) log.info('a destination is back: its cancelled routes are sent now', { destination, routes: count });
                restored += count;
              } else {
                const count = await ledger.cancel(destination, reason);
                if (count > 0)
                  log.warning('routes cancelled; they are sent if the destination comes back', { destination, routes: count, reason });
              }
            }
            if (restored > 0) sender.kick();
          } catch (error) {
            log.warning('checking the destinations failed; checked again at the next sweep', { error: describe(error) });
          }
        })().finally(() => (reconciling = undefined)));

  /** Decides one resource (once per LastUpdate) and records its routes; safe to run twice. */
  const decide = async (level: Level, id: string, listed?: ExpandedResource) => {
    const fields = resourceField(level, id);
    const resource = await describeResource(orthanc, level, id, keysByLevel[level], listed);
    if (!resource) return log.debug('gone; nothing to route', fields);
    // Unstable again (new instances): its next Stable change, or the sweep, brings it back.
    if (!resource.isStable) return;
    if (await ledger.isDecided(id, resource.lastUpdate, options.DryRun)) return;
    const matched = rules.filter((rule) => rule.level === level && rule.matches(resource.lookup));
    const names = matched.map((rule) => rule.name);
    const destinations = [...new Set(matched.flatMap((rule) => rule.destinations))];
    if (matched.length === 0) {
      await ledger.decide(level, id, resource.lastUpdate, 'unmatched', [], []);
      return log.info('no rule matches; nothing sent', fields);
    }
    if (options.DryRun) {
      await ledger.decide(level, id, resource.lastUpdate, 'dry-run', names, []);
      for (const key of destinations) {
        const { uri, body } = storeRequest(parseDestinationKey(key), id);
        log.info('dry run: would send', {
          ...fields,
          lastUpdate: resource.lastUpdate,
          rules: names.join(','),
          destination: key,
          request: `POST ${uri} ${JSON.stringify(body)}`,
        });
      }
      return;
    }
    // Read after the resource's LastUpdate: at least the instances of that version.
    const instances = options.DeleteAfterRouting ? await instancesOf(orthanc, level, id) : undefined;
    if (options.DeleteAfterRouting && !instances) return log.debug('gone; nothing to route', fields);
    await ledger.decide(level, id, resource.lastUpdate, 'routed', names, destinations, Date.now(), instances);
    log.info('routing', { ...fields, lastUpdate: resource.lastUpdate, rules: names.join(','), destinations: destinations.join(',') });
    sender.kick();
  };

  // One decision at a time per resource: the change feed and the sweep may bring the same one.
  const deciding = new Map<string, Promise<void>>();
  const consider = (level: Level, id: string, listed?: ExpandedResource): Promise<void> => {
    // After the previous decision, whether it succeeded or not: a failure is its caller's to report.
    const run = () => decide(level, id, listed);
    const next = (deciding.get(id) ?? Promise.resolve()).then(run, run);
    deciding.set(id, next);
    const forget = () => void (deciding.get(id) === next && deciding.delete(id));
    next.then(forget, forget);
    return next;
  };

  const system = await orthanc.getSystem();
  const sweeper = new Sweeper({
    orthanc,
    log,
    levels,
    since: routingSince,
    extendedFind: system.Capabilities?.HasExtendedFind === true,
    minimumAgeSeconds: cluster?.shared ? options.ClusterSweepMinimumAgeSeconds : 0,
    consider,
    isDecided: (id, lastUpdate) => ledger.isDecided(id, lastUpdate, options.DryRun),
    loadPrunedBefore: () => ledger.setting(prunedBeforeSetting),
    // A dry run's sweep decides nothing for real: its mark must not let a real sweep stop early.
    loadMark: (level) => ledger.setting(`SweptThrough:${level}${options.DryRun ? ':dry-run' : ''}`),
    onSwept: (outcome) => routingMetrics.swept(outcome),
    saveMark: (level, time) => ledger.saveSetting(`SweptThrough:${level}${options.DryRun ? ':dry-run' : ''}`, time),
  });
  const pruner = new Pruner({ orthancNow, ledger, log, keepDays: options.KeepFinishedRoutesDays });
  const sweep = (reason: string) => {
    void reconcile();
    return sweeper.request(reason);
  };
  orthanc.registerOnChangeCallback(
    async (changeType, _resourceType, resourceId) => {
      if (changeType === ChangeType.ORTHANC_STARTED) return void sweep('Orthanc started or came back');
      const level = levels.find((l) => ChangeType[trigger[l]] === changeType);
      if (!level) return;
      try {
        await consider(level, resourceId);
      } catch (error) {
        // The cursor moves on: the sweep finds this resource again.
        log.warning('could not decide; the next sweep picks it up', { ...resourceField(level, resourceId), error: describe(error) });
        setTimeout(() => void sweep('after a failed decision'), options.Retry.InitialDelaySeconds * 1000).unref();
      }
    },
    { types: [...levels.map((level) => trigger[level]), 'ORTHANC_STARTED'] },
  );

  orthanc.registerRestCallback(
    '/recipes/autorouting/status',
    async (output: RestOutput) => {
      output.answerJson(await statusOf(ledger, sender, sweeper, pruner, options, routingSince));
    },
    { hostAction: true, methods: ['GET'] },
  );
  orthanc.registerRestCallback(
    '/recipes/autorouting/retry',
    async (output: RestOutput, _uri: string, request: RestRequest) => {
      const id = request.get.id;
      if (id !== undefined && !(await ledger.knows(id))) {
        throw new RecipeHttpError(404, 'not-in-ledger', `the ledger has no resource ${id.slice(0, 100)}`);
      }
      const retried = await ledger.retry(id);
      if (retried > 0) log.info('retrying routes now, as asked', { routes: retried, resource: id });
      // A dry run sends nothing, not even routes left by an earlier real run.
      if (!options.DryRun) sender.kick();
      output.answerJson({ Retried: retried });
    },
    { hostAction: true, methods: ['POST'] },
  );

  const stopRenewing = options.DryRun ? undefined : cluster?.onHeartbeat(() => sender.renewLeases());
  const stopReporting = cluster?.report(() => ({ JobsInFlight: sender.inFlight() }));
  if (!options.DryRun) {
    await reconcile();
    await sender.start();
    if (options.DeleteAfterRouting) {
      for (const decision of await ledger.routedNotDeleted())
        await deleteIfDone(decision).catch((error) =>
          log.error('deleting after routing failed', { ...resourceField(decision.level, decision.resource_id), error: describe(error) }),
        );
    }
  }
  void sweeper.request('start');
  const interval =
    options.SweepIntervalSeconds > 0 ? setInterval(() => void sweep('periodic'), options.SweepIntervalSeconds * 1000) : undefined;
  // Pruning runs beside routing, in small batches: at start, then every hour.
  void pruner.run();
  const pruning = setInterval(() => void pruner.run(), 3600_000);
  return {
    async close() {
      clearInterval(interval);
      clearInterval(pruning);
      stopRenewing?.();
      stopReporting?.();
      await sweeper.stop();
      await pruner.stop();
      await sender.close();
    },
  };
}
