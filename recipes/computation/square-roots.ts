/** What one computation did: the seconds it took (and the sum, so that no square root is skipped). */
export interface ComputationResult {
  seconds: number;
  sum: number;
}

/**
 * The sample's "CPU-intensive computation": square roots of 0 to 29,999, a thousand times over
 * (30 million in all), timed. Python needs about a second for it; V8 about 70 ms.
 */
export function computeSquareRoots(count: number): ComputationResult {
  const start = performance.now();
  let sum = 0;
  for (let done = 0; done < count;) {
    const round = Math.min(30_000, count - done);
    for (let j = 0; j < round; j += 1) sum += Math.sqrt(j);
    done += round;
  }
  return { seconds: (performance.now() - start) / 1000, sum };
}

/** The worker task: the same computation, in a thread of the pool. */
export default function squareRootsTask(input: { count: number }): ComputationResult {
  return computeSquareRoots(input.count);
}
