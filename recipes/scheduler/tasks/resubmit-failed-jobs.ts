import { describe } from '../../../shared/binding/index.js';
import { TaskError } from '../runner.js';
import type { BuiltInTask } from './built-in.js';

export interface ResubmitFailedJobsOptions {
  /** Only jobs of these types (`DicomModalityStore`, `ResourceModification`…); every type when empty. */
  Types: string[];
  MaxPerRun: number;
}

interface OrthancJob {
  ID: string;
  State: string;
  Type: string;
  CompletionTime?: string;
}

/**
 * Resubmits the jobs in `Failure` (oldest first), at most `MaxPerRun` per run. Orthanc keeps only
 * the last `JobsHistorySize` finished jobs (10 by default), so older failures are out of reach.
 */
export const resubmitFailedJobs: BuiltInTask<ResubmitFailedJobsOptions> = {
  schema: {
    type: 'object',
    properties: {
      Types: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description:
          'Only jobs of these types (as `/jobs` names them: `DicomModalityStore`, `ResourceModification`…); every type when empty.',
        default: [],
      },
      MaxPerRun: { type: 'integer', minimum: 1, description: 'The most jobs resubmitted in one run.', default: 10 },
    },
    additionalProperties: false,
  },
  async run({ orthanc, log, signal }, options) {
    const jobs = await orthanc.restApiGetJson<OrthancJob[]>('/jobs?expand');
    const types = new Set(options.Types);
    const failed = jobs
      .filter((job) => job.State === 'Failure' && (types.size === 0 || types.has(job.Type)))
      .sort((a, b) => (a.CompletionTime ?? '').localeCompare(b.CompletionTime ?? ''));
    const chosen = failed.slice(0, options.MaxPerRun);
    const resubmitted: string[] = [];
    const errors: { ID: string; Error: string }[] = [];
    for (const job of chosen) {
      signal.throwIfAborted();
      try {
        // Orthanc answers 400 when the job is no longer in Failure (resubmitted by someone else).
        await orthanc.restApiPost(`/jobs/${encodeURIComponent(job.ID)}/resubmit`, '');
        resubmitted.push(job.ID);
      } catch (error) {
        errors.push({ ID: job.ID, Error: describe(error) });
      }
    }
    if (resubmitted.length > 0) log.info('resubmitted failed jobs', { count: resubmitted.length, jobs: resubmitted.join(',') });
    const result = { Resubmitted: resubmitted, Failed: errors, Remaining: failed.length - chosen.length };
    if (errors.length > 0) throw new TaskError(`${errors.length} of ${chosen.length} resubmissions failed: ${errors[0]!.Error}`, result);
    return result;
  },
};
