import { changeTypeName, type OrthancBinding, type RestRequest } from '../../shared/binding/index.js';
import { CallerRights } from '../../shared/caller-rights.js';
import { isNotFound, type LevelPath } from '../../shared/orthanc-resources.js';
import { Pacer } from '../../shared/pacer.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { builtInMetadata, runMetadataFind, type OrthancFindSupport } from './find.js';
import { indexEvents, MetadataIndex } from './metadata-index.js';
import { forEachConcurrently, MetadataReader } from './metadata-reader.js';
import type { Options } from './options.generated.js';
import { BadFindRequest, parseFindRequest } from './request.js';
import schema from './schema.json' with { type: 'json' };

/**
 * The seed sample "Filtering and returning metadata": `POST /tools/find` with a `Metadata` field
 * keeps the resources whose metadata match, with `Limit`/`Since` applied after the filter and
 * patterns that cannot stall the host.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'metadata-find',
    title: 'Find by metadata',
    category: 'Search',
    description:
      'Extends POST /tools/find with a `Metadata` field that filters on metadata (regular expressions or DICOM wildcards) and returns them.',
    routes: ['POST /tools/find'],
    events: [...indexEvents],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#filtering-and-returning-metadata',
  },
  schema,
  setup({ orthanc, log }, options) {
    let index: MetadataIndex | undefined;
    if (options.MetadataIndex) {
      const metadataIndex = new MetadataIndex(options.IndexMaxResources);
      orthanc.registerOnChangeCallback(
        (changeType, resourceType, resourceId) => {
          metadataIndex.onChange(changeType, resourceType, resourceId);
          log.debug('index: change applied', {
            changeType: changeTypeName(changeType),
            resource: resourceId,
            mapsKept: metadataIndex.size,
          });
        },
        // The index is this host's own: every host sees every change.
        { types: indexEvents, everyHost: true },
      );
      index = metadataIndex;
    }
    const reader = new MetadataReader(
      orthanc,
      { mode: options.MetadataReads, concurrency: options.Concurrency, batchSize: options.BatchSize },
      log,
      index,
    );
    const rights = new CallerRights();
    let support: Promise<OrthancFindSupport> | undefined;
    const findSupport = () => {
      support ??= readFindSupport(orthanc).catch((error: unknown) => {
        support = undefined; // asked again on the next query
        throw error;
      });
      return support;
    };

    // Orthanc is asked as the caller (request.orthanc), and the caller's right on every resource
    // answered is checked (see keepGranted): what Orthanc refuses them is refused here too.
    // One pacer for every query: together they take at most a slice of each event-loop turn.
    const pacer = new Pacer();
    const limits = {
      maxPatternLength: options.MaxPatternLength,
      maxConstraints: options.MaxConstraints,
      maxCompiledSize: options.MaxCompiledSize,
    };

    // POST only, as Orthanc serves /tools/find (the host answers any other method with 405 and
    // `Allow: POST`, as Orthanc does). A body without `Metadata` is passed on as it came
    // (output.passThrough(): the front's proxy, with the caller's credentials and every query
    // argument), so Orthanc answers it byte for byte.
    orthanc.registerRestCallback(
      '/tools/find',
      async (output, _uri, request) => {
        let query;
        try {
          query = await parseFindRequest(request.body, limits, pacer);
        } catch (error) {
          if (!(error instanceof BadFindRequest)) throw error;
          throw new RecipeHttpError(400, 'bad-parameter', error.message, { Field: error.field });
        }
        if (!query) return output.passThrough();
        // What Orthanc refuses in the rest of the body throws its OrthancHttpError: the caller gets
        // Orthanc's status, Message, Details, OrthancStatus and OrthancError.
        const outcome = await runMetadataFind(request.orthanc, reader, query, await findSupport(), options.NativeMetadataQuery, pacer);
        outcome.answer = await keepGranted(rights, request, query.levelPath, outcome.answer, options.Concurrency);
        const { native, scanned, candidates, read } = outcome.stats;
        log.debug('find answered', {
          levelPath: query.levelPath,
          nativeConstraints: native,
          scanned,
          candidates,
          readFromOrthanc: read,
          answered: outcome.answer.length,
        });
        output.answerJson(outcome.answer);
      },
      { maxBodyBytes: options.MaxBodyKilobytes * 1024, methods: ['POST'] },
    );
  },
});

/**
 * The answer without the resources deleted meanwhile, once the caller's right on each is checked
 * (kept briefly per caller): the metadata come from the index, from `/tools/bulk-content` or with
 * the find itself, and none of these names the resource in its URI, so Orthanc's per-resource
 * rules (a Lua filter, the authorization plugin) would not see them. A refusal (403) answers the
 * whole query with Orthanc's status, as Orthanc answers a request for that resource.
 */
async function keepGranted(
  rights: CallerRights,
  request: RestRequest,
  levelPath: LevelPath,
  answer: unknown[],
  concurrency: number,
): Promise<unknown[]> {
  const gone = new Set<string>();
  const ids = answer.map((item) => (typeof item === 'string' ? item : (item as { ID: string }).ID));
  await forEachConcurrently(ids, concurrency, async (id) => {
    try {
      await rights.ensure(request, `/${levelPath}/${encodeURIComponent(id)}`);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      gone.add(id);
    }
  });
  return gone.size === 0 ? answer : answer.filter((_item, index) => !gone.has(ids[index]!));
}

async function readFindSupport(orthanc: OrthancBinding): Promise<OrthancFindSupport> {
  const system = await orthanc.getSystem();
  const userMetadata = typeof system.UserMetadata === 'object' && system.UserMetadata !== null ? Object.keys(system.UserMetadata) : [];
  return { hasExtendedFind: system.Capabilities?.HasExtendedFind === true, knownNames: new Set([...builtInMetadata, ...userMetadata]) };
}
