import { readFileSync, writeFileSync } from 'node:fs';

/** A process's resident memory and its peak so far, in bytes, from /proc (Linux). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/**
 * Resets a process's peak (VmHWM) to its current RSS, so that a later peak measures one phase
 * only. Where that is not permitted, the peak counts from the process's start: it can only overstate.
 */
export function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted: see above.
  }
}
