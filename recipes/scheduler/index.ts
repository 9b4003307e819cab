import { ChangeType, describe, type RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError, RecipeOptionsError } from '../../shared/recipe.js';
import { createAction } from './actions.js';
import { checkTasks, type TaskOptions } from './check.js';
import type { Options } from './options.generated.js';
import { TaskRunner, type RunRecord } from './runner.js';
import schema from './schema.json' with { type: 'json' };
import { parseEvery } from './every.js';
import { createTrigger, type Trigger } from './trigger.js';

/** How long `close()` waits for a cancelled run that ignores its AbortSignal. */
const cancelTimeoutMs = 10_000;

interface ScheduledTask {
  options: TaskOptions;
  runner: TaskRunner;
  trigger: Trigger;
}

/**
 * The seed sample "Scheduling a task for periodic execution", made configurable: periodic tasks
 * that run while Orthanc is up (started on ORTHANC_STARTED, paused on ORTHANC_STOPPED), never
 * overlap themselves, and can be listed and run now over REST.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'scheduler',
    title: 'Scheduler',
    description: 'Runs periodic tasks (built-in purges and job retries, REST calls, your own modules) while Orthanc is up.',
    category: 'Automation',
    routes: ['GET /recipes/scheduler/tasks', 'GET /recipes/scheduler/tasks/{name}', 'POST /recipes/scheduler/tasks/{name}/run'],
    events: ['ORTHANC_STARTED', 'ORTHANC_STOPPED'],
    destructive: true,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#scheduling-a-task-for-periodic-execution',
  },
  schema,
  check: (options, { configDirectory }) => checkTasks(options, configDirectory),
  async setup(ctx, options) {
    const { orthanc, log } = ctx;
    // `check` ran at load; this fills in the built-ins' defaults when setup is called alone.
    const issues = await checkTasks(options, ctx.configDirectory);
    if (issues.length > 0) throw new RecipeOptionsError(issues);

    const runs = ctx.metrics.counter('runs_total', 'Runs of a task that ended, by task and outcome (Success, Failure, Cancelled).', [
      'task',
      'outcome',
    ]);
    const durations = ctx.metrics.histogram(
      'run_duration_seconds',
      'How long the runs of a task took.',
      ['task'],
      [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    );
    const onRunEnded = (record: RunRecord, task: string) => {
      runs.inc({ task, outcome: record.Outcome ?? 'Failure' });
      durations.observe({ task }, (record.DurationMs ?? 0) / 1000);
    };
    const tasks = new Map<string, ScheduledTask>();
    for (const [index, task] of options.Tasks.entries()) {
      const action = await createAction(task, ctx).catch((error: unknown) => {
        throw new RecipeOptionsError([{ pointer: `/Tasks/${index}/Module`, message: describe(error) }]);
      });
      const runner = new TaskRunner(task.Name, action, log, ctx.signal, (record) => onRunEnded(record, task.Name));
      const shared = ctx.cluster?.shared === true ? ctx.cluster : undefined;
      const tick = shared ? (dueAt: number) => void runOncePerPeriod(task, runner, dueAt) : () => void runner.start('Schedule');
      const trigger = createTrigger(task.Name, task, tick, log, shared);
      tasks.set(task.Name, { options: task, runner, trigger });
    }

    /**
     * With hosts sharing the work, a tick runs only where the period is claimed first (once per
     * period across the cluster), and never while another host's run of the task goes on.
     */
    async function runOncePerPeriod(task: TaskOptions, runner: TaskRunner, dueAt: number): Promise<void> {
      const period = task.Every !== undefined ? String(Math.round(dueAt / parseEvery(task.Every)!)) : String(Math.floor(dueAt / 1000));
      let claim;
      try {
        claim = await ctx.cluster!.claimRun(task.Name, period);
      } catch (error) {
        log.warning("cannot claim this period's run; skipped", { task: task.Name, error: describe(error) });
        return;
      }
      if (!claim) return log.debug('another host runs this period', { task: task.Name, period });
      if (!runner.start('Schedule')) return void (await claim.release());
      await runner.whenDone();
      await claim.release();
    }

    let orthancUp = false;
    orthanc.registerOnChangeCallback(
      (changeType) => {
        if (changeType === ChangeType.ORTHANC_STARTED && !orthancUp) {
          orthancUp = true;
          for (const { trigger } of tasks.values()) trigger.start();
          log.info('Orthanc is up: tasks scheduled', { tasks: tasks.size });
        } else if (changeType === ChangeType.ORTHANC_STOPPED && orthancUp) {
          orthancUp = false;
          for (const { trigger } of tasks.values()) trigger.stop();
          log.info(ctx.signal.aborted ? 'the host is stopping: tasks stopped' : 'Orthanc is down: tasks paused until it is back');
        }
      },
      { types: ['ORTHANC_STARTED', 'ORTHANC_STOPPED'] },
    );

    orthanc.registerRestCallback(
      '/recipes/scheduler/tasks',
      (output) => {
        output.answerJson([...tasks.values()].map(describeTask));
      },
      { hostAction: true, methods: ['GET'] },
    );
    orthanc.registerRestCallback(
      '/recipes/scheduler/tasks/([^/]+)',
      (output, _uri, request) => {
        output.answerJson(describeTask(findTask(request)));
      },
      { hostAction: true, methods: ['GET'] },
    );
    orthanc.registerRestCallback(
      '/recipes/scheduler/tasks/([^/]+)/run',
      async (output, _uri, request) => {
        const task = findTask(request);
        const busy = () =>
          new RecipeHttpError(409, 'already-running', `task "${task.options.Name}" is already running`, { Running: task.runner.running });
        if (task.runner.running) throw busy();
        if (ctx.cluster?.shared !== true) {
          const run = task.runner.start('Manual');
          if (!run) throw busy();
          return output.answerJson({ Name: task.options.Name, ...run }, 202);
        }
        // Hosts sharing the work: the task's single-run lock, the one its ticks take, held while
        // the run lasts, so that a run now never overlaps a run (manual or scheduled) on another host.
        let claim;
        try {
          claim = await ctx.cluster.claimRun(task.options.Name);
        } catch (error) {
          throw new RecipeHttpError(
            503,
            'state-database-unavailable',
            `task "${task.options.Name}" not run: the state database, which keeps runs apart across hosts, did not answer (${describe(error)})`,
          );
        }
        if (!claim) {
          throw new RecipeHttpError(
            409,
            'running-elsewhere',
            `task "${task.options.Name}" is already running on another host of the cluster`,
            { Running: null, RunningElsewhere: true },
          );
        }
        const run = task.runner.start('Manual');
        if (!run) {
          await claim.release();
          throw busy();
        }
        void task.runner.whenDone().finally(() => claim.release());
        output.answerJson({ Name: task.options.Name, ...run }, 202);
      },
      { hostAction: true, methods: ['POST'] },
    );

    function findTask(request: RestRequest): ScheduledTask {
      const name = request.groups[0] ?? '';
      const task = tasks.get(name);
      if (!task)
        throw new RecipeHttpError(404, 'unknown-task', `no task named "${name.slice(0, 100)}"; known: ${[...tasks.keys()].join(', ')}`);
      return task;
    }

    return {
      async close() {
        for (const { trigger } of tasks.values()) trigger.destroy();
        await Promise.all([...tasks.values()].map(({ runner }) => runner.cancel(cancelTimeoutMs)));
      },
    };
  },
});

function describeTask({ options, runner, trigger }: ScheduledTask): Record<string, unknown> {
  return {
    Name: options.Name,
    ...(options.Schedule !== undefined ? { Schedule: options.Schedule } : { Every: options.Every }),
    TimeZone: options.TimeZone ?? null,
    Action:
      options.Task !== undefined
        ? { Task: options.Task }
        : options.Request !== undefined
          ? { Request: `${options.Request.Method} ${options.Request.Uri}` }
          : { Module: options.Module },
    NextRun: trigger.nextRun()?.toISOString() ?? null,
    Running: runner.running ?? null,
    RunCount: runner.runCount,
    FailureCount: runner.failureCount,
    SkippedCount: runner.skippedCount,
    LastRun: runner.lastRun ?? null,
  };
}
