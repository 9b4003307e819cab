import type { RestOutput } from '../../shared/binding/index.js';
import { defineRecipe } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };
import { computeSquareRoots, type ComputationResult } from './square-roots.js';

const task = new URL('./square-roots.js', import.meta.url);

/** `computation done in 0.071 seconds`, as the sample answers. */
const describeResult = (result: ComputationResult) => `computation done in ${result.seconds.toFixed(3)} seconds\n`;

/**
 * The seed sample "Performance and concurrency": the same CPU-bound computation served on the
 * event loop (every other request waits, as behind Python's GIL) and in the worker pool.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'computation',
    title: 'Computation',
    category: 'Examples',
    description:
      "Runs the sample's 30 million square roots on the event loop (/computation) or in the worker pool (/computation-pool), to show why CPU work belongs in the pool.",
    routes: ['GET /computation', 'GET /computation-pool'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#performance-and-concurrency',
  },
  schema,
  setup({ orthanc, workers, signal }, options) {
    const count = options.SquareRoots;

    orthanc.registerRestCallback(
      '/computation',
      (output: RestOutput) => {
        // Deliberately blocking: nothing else runs in the host until it returns.
        output.answerBuffer(describeResult(computeSquareRoots(count)), 'text/plain; charset=utf-8');
      },
      { methods: ['GET'] },
    );

    orthanc.registerRestCallback(
      '/computation-pool',
      async (output: RestOutput) => {
        const result = await workers.run<ComputationResult>(task, { count }, { signal });
        output.answerBuffer(describeResult(result), 'text/plain; charset=utf-8');
      },
      { methods: ['GET'] },
    );
  },
});
