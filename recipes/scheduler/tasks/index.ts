import type { BuiltInTask } from './built-in.js';
import { logStatistics } from './log-statistics.js';
import { purgeOlderThan } from './purge-older-than.js';
import { resubmitFailedJobs } from './resubmit-failed-jobs.js';

export type { BuiltInContext, BuiltInTask } from './built-in.js';

/** The built-in tasks by name; the names are the `Task` enum of schema.json. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each task has its own options type
export const builtInTasks: Readonly<Record<string, BuiltInTask<any>>> = {
  'purge-older-than': purgeOlderThan,
  'resubmit-failed-jobs': resubmitFailedJobs,
  'log-statistics': logStatistics,
};
