import { OrthancHttpError, describe, type OrthancBinding, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { ImageRefused, drawCross, toDataUri, type Sharp } from './image.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

type Json = Record<string, unknown>;

/**
 * The samples "Creating DICOM instances" and "Conversions Orthanc ↔ PIL images": an image
 * (PNG or JPEG) decoded by sharp and stored through Orthanc's `/tools/create-dicom`, and a cross
 * drawn on an instance's frame, stored as a new instance of the same series.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'create-dicom',
    title: 'Create DICOM from images',
    category: 'Imaging',
    description:
      'POST a PNG or JPEG (tags in the query or JSON) to store it as a DICOM instance; POST /instances/{id}/annotate stores a copy of a frame with a cross drawn by sharp in the same series.',
    routes: ['POST /recipes/create-dicom', 'POST /instances/{id}/annotate'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#creating-dicom-instances',
  },
  schema,
  async setup({ orthanc }, options) {
    let sharp: Sharp;
    try {
      sharp = (await import('sharp')).default;
    } catch (error) {
      throw new Error(
        `sharp could not be loaded, so create-dicom is disabled (the other recipes are not affected): ${describe(error).split('\n')[0]}`,
        { cause: error },
      );
    }

    orthanc.registerRestCallback(
      '/recipes/create-dicom',
      async (output: RestOutput, _uri: string, request: RestRequest) => {
        if (request.body.length > options.MaxImageBytes)
          throw new ImageRefused(413, `the body has ${request.body.length} bytes, more than MaxImageBytes (${options.MaxImageBytes})`);
        // ImageRefused is a RecipeHttpError; Orthanc's 4xx (an unknown tag, an unknown Parent) is answered as it is.
        const { image, tags, parent } = readRequest(request);
        const { uri } = await toDataUri(sharp, image, options.MaxPixels);
        output.answerJson(await create(request.orthanc, { Tags: tags, Content: uri, ...(parent !== undefined ? { Parent: parent } : {}) }));
      },
      { methods: ['POST'] },
    );

    orthanc.registerRestCallback(
      '/instances/([^/]+)/annotate',
      async (output: RestOutput, _uri: string, request: RestRequest) => {
        const frameText = Object.prototype.hasOwnProperty.call(request.get, 'frame') ? request.get.frame! : '0';
        if (!/^\d{1,6}$/.test(frameText))
          throw new RecipeHttpError(400, 'bad-parameter', `frame must be a non-negative integer, not "${frameText.slice(0, 40)}"`);
        const instanceId = encodeURIComponent(request.groups[0]!);
        const source = await request.orthanc.restApiGetJson<{ ParentSeries: string; MainDicomTags?: Record<string, string> }>(
          `/instances/${instanceId}`,
        );
        let frame: Buffer;
        try {
          frame = await request.orthanc.restApiGet(`/instances/${instanceId}/frames/${Number(frameText)}/rendered`, {
            Accept: 'image/png',
          });
        } catch (error) {
          if (error instanceof OrthancHttpError && error.httpStatus !== 404) {
            throw new RecipeHttpError(
              422,
              'not-renderable',
              `Orthanc cannot render frame ${frameText} of this instance (not an image, or no such frame): ${error.message}`,
            );
          }
          throw error;
        }
        const annotated = await drawCross(sharp, frame);
        // A refusal of Orthanc's here is not the caller's fault: it stays an error.
        // Parent = the series: Orthanc copies the patient, study and series modules from it.
        const tags: Json = {
          ImageComments: 'Annotated copy (cross)',
          DerivationDescription: 'Cross drawn by orthanc-recipes create-dicom',
        };
        if (source.MainDicomTags?.InstanceNumber) tags.InstanceNumber = source.MainDicomTags.InstanceNumber;
        output.answerJson(
          await create(request.orthanc, {
            Parent: source.ParentSeries,
            Tags: tags,
            Content: `data:image/png;base64,${annotated.toString('base64')}`,
          }),
        );
      },
      { methods: ['POST'] },
    );
  },
});

/**
 * Orthanc's error codes that `/tools/create-dicom` answers with a 500 although the request is at
 * fault: ParameterOutOfRange (3), BadParameterType (5), BadRequest (8), BadFileFormat (15),
 * InexistentTag (27, "Unknown DICOM tag" for `?NoSuchTag=1`, on 1.10 and 1.12.7 alike).
 */
const inputErrors = new Set([3, 5, 8, 15, 27]);

/** Stores through `/tools/create-dicom` and answers the new instance as `/instances/{id}` has it. */
async function create(orthanc: OrthancBinding, body: Json): Promise<Json> {
  let created: { ID: string };
  try {
    created = await orthanc.restApiPostJson<{ ID: string }>('/tools/create-dicom', body);
  } catch (error) {
    const status = error instanceof OrthancHttpError ? error.orthancStatus : undefined;
    if (status !== undefined && inputErrors.has(status)) {
      const details = (error as OrthancHttpError).details as { Message?: string; Details?: string };
      throw new ImageRefused(400, `Orthanc refused the tags: ${details.Message ?? ''}${details.Details ? ` (${details.Details})` : ''}`);
    }
    throw error;
  }
  return orthanc.restApiGetJson<Json>(`/instances/${encodeURIComponent(created.ID)}`);
}

/**
 * The image and the tags: an image body with the tags in the query (`?PatientID=…&Modality=OT`,
 * `Parent` for an existing patient, study or series), or a JSON body `{"Image": "<base64 or data
 * URI>", "Tags": {…}, "Parent": "…"}`.
 */
function readRequest(request: RestRequest): { image: Buffer; tags: Json; parent?: string } {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    let body: unknown;
    try {
      body = JSON.parse(request.body.toString('utf8'));
    } catch (error) {
      throw new ImageRefused(400, `the JSON body does not parse: ${(error as Error).message}`);
    }
    if (!isObject(body)) throw new ImageRefused(400, 'the JSON body must be an object {"Image": ..., "Tags": {...}}');
    const own = (key: string) => (Object.prototype.hasOwnProperty.call(body, key) ? body[key] : undefined);
    for (const key of Object.keys(body))
      if (!['Image', 'Tags', 'Parent'].includes(key))
        throw new ImageRefused(400, `unknown key "${key.slice(0, 40)}"; known: Image, Tags, Parent`);
    const image = own('Image');
    if (typeof image !== 'string') throw new ImageRefused(400, '"Image" must be the image in base64 (or a data URI)');
    const tags = own('Tags') ?? {};
    if (!isObject(tags)) throw new ImageRefused(400, '"Tags" must be an object of DICOM tags');
    const parent = own('Parent');
    if (parent !== undefined && typeof parent !== 'string') throw new ImageRefused(400, '"Parent" must be an Orthanc ID');
    const base64 = image.replace(/^data:[^;,]*;base64,/, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new ImageRefused(400, '"Image" is not base64');
    return { image: Buffer.from(base64, 'base64'), tags: { ...tags }, parent: parent };
  }
  const tags: Json = {};
  let parent: string | undefined;
  for (const [key, value] of Object.entries(request.get)) {
    if (key === 'Parent') parent = value;
    else tags[key] = value;
  }
  if (request.body.length === 0) throw new ImageRefused(400, 'the body is empty: send a PNG or JPEG (or JSON with "Image")');
  return { image: request.body, tags, parent };
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
