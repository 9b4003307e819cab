const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** The shortest period accepted: below it a task would mostly be busy waiting for itself. */
export const minimumPeriodMs = 100;
/** The longest delay a Node timer holds (about 24.8 days); longer periods belong to `Schedule`. */
export const maximumPeriodMs = 2 ** 31 - 1;

/** `"500ms"`, `"1s"`, `"5m"`, `"1h"` in milliseconds; undefined when the text is not of that form. */
export function parseEvery(text: string): number | undefined {
  const found = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  if (!found) return undefined;
  return Number(found[1]) * unitMs[found[2] as keyof typeof unitMs];
}

/** Why `Every` cannot be used, or undefined when it can. */
export function checkEvery(text: string): string | undefined {
  const period = parseEvery(text);
  if (period === undefined) return `"${text}" is not a period; write a whole number and a unit: 500ms, 1s, 5m, 1h`;
  if (period < minimumPeriodMs) return `"${text}" is shorter than ${minimumPeriodMs} ms`;
  if (period > maximumPeriodMs) return `"${text}" is longer than 24 days; use Schedule (cron) for long periods`;
  return undefined;
}
