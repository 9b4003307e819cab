import type { BuiltInTask } from './built-in.js';
import { logStatistics } from './log-statistics.js';
import { purgeOlderThan } from './purge-older-than.js';
import { resubmitFailedJobs } from './resubmit-failed-jobs.js';

export type { BuiltInContext, BuiltInTask } from './built-in.js';

/** The built-in tasks by name; the names are the `Task` enum of schema.json. */
export const builtInTasks: Readonly<Record<string, BuiltInTask<any>>> = { // eslint-disable-line @typescript-eslint/no-explicit-any
  'purge-older-than': purgeOlderThan,
  'resubmit-failed-jobs': resubmitFailedJobs,
  'log-statistics': logStatistics,
};
