import { isNotFound } from '../../shared/binding/index.js';
import { defineRecipe } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/** The queue's name in the recipe's queues. */
const QUEUE = 'new-instances';

/**
 * The Python sample "Key-Value Stores and Queues": each new instance is queued durably; workers
 * reserve, tag and acknowledge, so a host killed mid-work loses nothing (a reserved instance comes
 * back once its reservation expires).
 */
export default defineRecipe<Options>({
  meta: {
    id: 'queue',
    title: 'Queue',
    description:
      'Queues each new instance durably; workers tag it with a metadata and acknowledge, so nothing is lost when the host is killed mid-work.',
    category: 'Automation',
    routes: ['GET /recipes/queue/stats'],
    events: ['NEW_INSTANCE'],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#key-value-stores-and-queues',
  },
  schema,
  setup({ orthanc, log, queue, signal }, options) {
    const instances = queue(QUEUE);
    const counts = { Enqueued: 0, Tagged: 0, Vanished: 0, Failed: 0, Redelivered: 0 };
    const stop = new AbortController();
    signal.addEventListener('abort', () => stop.abort(), { once: true });

    // Enqueue resolves once stored: the change is acknowledged to the feed only after that.
    orthanc.registerOnChangeCallback(
      async (_changeType, _resourceType, instanceId) => {
        await instances.enqueue(instanceId);
        counts.Enqueued += 1;
      },
      { types: ['NEW_INSTANCE'] },
    );

    const exists = async (instanceId: string) => {
      const answer = await orthanc.restApiRequest('GET', `/instances/${encodeURIComponent(instanceId)}`);
      return answer.statusCode !== 404;
    };
    const tag = async (instanceId: string, item: { reservations: number }) => {
      if (item.reservations > 1) counts.Redelivered += 1;
      try {
        // PUT of the same value again leaves the same state: idempotent under redelivery.
        await orthanc.restApiPut(`/instances/${encodeURIComponent(instanceId)}/metadata/${options.Metadata}`, options.Value);
        counts.Tagged += 1;
        log.debug('tagged', { instance: instanceId });
      } catch (error) {
        // Orthanc answers 404 both for an instance deleted meanwhile (nothing left to tag: done)
        // and for a metadata name it does not know (a configuration error: keep the value).
        if (isNotFound(error) && !(await exists(instanceId))) {
          counts.Vanished += 1;
          return;
        }
        throw error;
      }
    };
    const working = instances.work(tag, {
      signal: stop.signal,
      concurrency: options.Workers,
      reserveSeconds: options.ReserveSeconds,
      onError: (error, item) => {
        counts.Failed += 1;
        log.warning('not tagged; it comes back later', {
          instance: item.id ? item.value : undefined,
          retrySeconds: options.ReserveSeconds,
          error: (error as Error).message,
        });
      },
    });

    orthanc.registerRestCallback(
      '/recipes/queue/stats',
      async (output) => {
        const { Waiting, Reserved } = await instances.stats();
        output.answerJson({ Queue: QUEUE, Size: Waiting + Reserved, Waiting, Reserved, SinceStart: counts });
      },
      { hostAction: true, methods: ['GET'] },
    );

    return {
      async close() {
        stop.abort();
        await working;
      },
    };
  },
});
