import type { RecipeContext } from '../../shared/recipe.js';
import type { TaskOptions } from './check.js';
import { loadTaskModule, modulePath } from './module-loader.js';
import type { TaskAction } from './runner.js';
import { builtInTasks } from './tasks/index.js';

/** The action of one (checked) task: a built-in, a request to Orthanc, or a module's function. */
export async function createAction(task: TaskOptions, ctx: RecipeContext): Promise<TaskAction> {
  const { orthanc } = ctx;
  if (task.Task !== undefined) {
    const builtIn = builtInTasks[task.Task]!;
    const log = ctx.log.child(task.Name);
    return (signal) => builtIn.run({ orthanc, log, signal }, task.Options);
  }
  if (task.Request !== undefined) {
    const { Method: method, Uri: uri, Body: body } = task.Request;
    return async () => {
      const payload = body;
      const answer =
        method === 'GET'
          ? await orthanc.restApiGet(uri)
          : method === 'DELETE'
            ? await orthanc.restApiDelete(uri)
            : method === 'POST'
              ? await orthanc.restApiPost(uri, payload)
              : await orthanc.restApiPut(uri, payload);
      return parseAnswer(answer);
    };
  }
  const run = await loadTaskModule(modulePath(task.Module!, ctx.configDirectory));
  const log = ctx.log.child(task.Name);
  return (signal) => Promise.resolve(run({ ...ctx, log, signal }, task.Options));
}

/** Orthanc's answer as JSON when it is JSON, else as text. */
function parseAnswer(answer: Buffer): unknown {
  const text = answer.toString('utf8');
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
