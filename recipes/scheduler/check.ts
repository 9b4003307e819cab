import { existsSync } from 'node:fs';
import { describe } from '../../shared/binding/index.js';
import type { OptionsIssue } from '../../shared/recipe.js';
import { compileSchema, toIssues } from '../../shared/validate.js';
import { checkEvery } from './every.js';
import { loadTaskModule, modulePath } from './module-loader.js';
import type { Options } from './options.generated.js';
import { builtInTasks } from './tasks/index.js';
import { checkCron, checkTimeZone } from './trigger.js';

export type TaskOptions = Options['Tasks'][number];

const actionKeys = ['Task', 'Request', 'Module'] as const;

/**
 * Everything schema.json cannot say about the tasks: unique names, exactly one of Schedule and
 * Every, exactly one action, cron and time zone, a built-in's own options (their defaults are
 * filled in here), and a Module that loads and exports a function.
 */
export async function checkTasks(options: Options, configDirectory: string): Promise<OptionsIssue[]> {
  const issues: OptionsIssue[] = [];
  const seen = new Map<string, number>();
  for (const [index, task] of options.Tasks.entries()) {
    const at = `/Tasks/${index}`;
    const issue = (pointer: string, message: string) => issues.push({ pointer: `${at}${pointer}`, message });
    const first = seen.get(task.Name);
    if (first !== undefined) issue('/Name', `"${task.Name}" is already the name of /Tasks/${first}; names must be unique`);
    else seen.set(task.Name, index);

    if (task.Schedule !== undefined && task.Every !== undefined) issue('', 'has both Schedule and Every; give exactly one');
    else if (task.Schedule === undefined && task.Every === undefined)
      issue('', 'needs a Schedule (cron expression) or an Every (period such as "1s")');
    const cronProblem = task.Schedule !== undefined ? checkCron(task.Schedule) : undefined;
    if (cronProblem) issue('/Schedule', cronProblem);
    const everyProblem = task.Every !== undefined ? checkEvery(task.Every) : undefined;
    if (everyProblem) issue('/Every', everyProblem);
    if (task.TimeZone !== undefined) {
      const zoneProblem = task.Every !== undefined ? 'applies to Schedule only, not to Every' : checkTimeZone(task.TimeZone);
      if (zoneProblem) issue('/TimeZone', zoneProblem);
    }

    const actions = actionKeys.filter((key) => task[key] !== undefined);
    if (actions.length === 0) {
      issue('', 'needs exactly one action: Task (built-in), Request or Module');
    } else if (actions.length > 1) {
      issue('', `has ${actions.join(' and ')}; give exactly one action`);
    } else if (task.Task !== undefined) {
      const builtIn = builtInTasks[task.Task];
      if (!builtIn) {
        issue('/Task', `unknown built-in task "${task.Task}"; known: ${Object.keys(builtInTasks).join(', ')}`);
      } else {
        const validate = compileSchema(builtIn.schema);
        if (!validate(task.Options)) issues.push(...toIssues(validate.errors, `${at}/Options`));
        else for (const problem of builtIn.check?.(task.Options) ?? []) issue(`/Options${problem.pointer}`, problem.message);
      }
    } else if (task.Request !== undefined) {
      if (Object.keys(task.Options).length > 0) issue('/Options', 'applies to Task and Module only, not to Request');
      if (task.Request.Body !== '' && (task.Request.Method === 'GET' || task.Request.Method === 'DELETE')) {
        issue('/Request/Body', `a ${task.Request.Method} request has no body`);
      }
    } else if (task.Module !== undefined) {
      const file = modulePath(task.Module, configDirectory);
      if (!existsSync(file)) {
        issue('/Module', `${file} does not exist`);
      } else {
        try {
          await loadTaskModule(file);
        } catch (error) {
          issue('/Module', `${file}: ${describe(error)}`);
        }
      }
    }
  }
  return issues;
}
