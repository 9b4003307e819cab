import { isAbsolute, resolve } from 'node:path';
import { describe, instanceOriginName, type DicomInstance, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { AuditFile } from './audit-file.js';
import type { Options } from './options.generated.js';
import { redactTags } from './redact.js';
import schema from './schema.json' with { type: 'json' };

/** What is recorded of each stored instance: in the log, the audit file and `recent`. */
export interface StoredInstanceRecord {
  /** When the recipe saw it (ISO 8601). */
  Time: string;
  InstanceId: string;
  /** Orthanc's `ReceptionDate` metadata, e.g. `20261129T093000`. */
  ReceptionDate: string | null;
  /** Bytes of the stored file. */
  Size: number;
  TransferSyntax: string | null;
  SopClassUid: string | null;
  /** The binding's `InstanceOrigin` name: `DICOM_PROTOCOL`, `REST_API`, `PLUGIN`, `LUA`, `WEB_DAV`, `UNKNOWN`. */
  Origin: string;
  /** AET of the modality that sent it; `""` unless it came over DICOM. */
  RemoteAet: string;
  /** Orthanc's simplified tags, identifying ones redacted unless `LogTags`. */
  Tags: Record<string, unknown>;
}

/**
 * The seed sample "Accessing the content of a new instance": what Orthanc knows of each stored
 * instance, logged, optionally appended to an audit file, and served as the latest few.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'stored-instances',
    title: 'Stored instances',
    category: 'Inspection',
    description:
      'Logs each stored instance (size, transfer syntax, SOP class, origin, remote AET, tags with the patient redacted), optionally to a rotated JSON-lines audit file, and serves the latest ones.',
    routes: ['GET /recipes/stored-instances/recent'],
    events: ['NEW_INSTANCE'],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#accessing-the-content-of-a-new-instance',
  },
  schema,
  async setup({ orthanc, log, configDirectory }, options) {
    const extraRedacted = new Set(options.ExtraRedactedTags);
    const auditPath = options.AuditFile
      ? isAbsolute(options.AuditFile)
        ? options.AuditFile
        : resolve(configDirectory, options.AuditFile)
      : undefined;
    const audit = auditPath
      ? await AuditFile.open({ path: auditPath, maxBytes: options.AuditMaxMegabytes * 2 ** 20, keep: options.AuditKeepFiles })
      : undefined;
    if (auditPath) log.info('audit file', { path: auditPath });
    /** Newest last; an instance delivered twice (at-least-once) keeps one entry, the latest. */
    const recent: StoredInstanceRecord[] = [];

    orthanc.registerOnStoredInstanceCallback(async (instance: DicomInstance, instanceId: string) => {
      const record = await describeInstance(instance, instanceId);
      if (!options.LogTags) record.Tags = redactTags(record.Tags, extraRedacted);
      // The tags make the line more than 1,000 characters (a heavy log at a busy site): only on request.
      if (options.LogLine !== 'none') {
        log.info('stored', {
          instance: instanceId,
          bytes: record.Size,
          transferSyntax: record.TransferSyntax,
          sopClass: record.SopClassUid,
          origin: record.Origin,
          remoteAet: record.RemoteAet,
          tags: options.LogLine === 'tags' ? JSON.stringify(record.Tags) : undefined,
        });
      }
      const known = recent.findIndex((r) => r.InstanceId === instanceId);
      if (known >= 0) recent.splice(known, 1);
      recent.push(record);
      if (recent.length > options.RecentCapacity) recent.shift();
      try {
        await audit?.append(record);
      } catch (error) {
        log.error('cannot append to the audit file', { instance: instanceId, path: auditPath, error: describe(error) });
      }
    });

    orthanc.registerRestCallback(
      '/recipes/stored-instances/recent',
      (output: RestOutput, _uri: string, request: RestRequest) => {
        const raw = request.get.limit ?? '10';
        const limit = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
        if (!(limit >= 1 && limit <= options.RecentCapacity)) {
          throw new RecipeHttpError(
            400,
            'bad-parameter',
            `limit must be an integer from 1 to ${options.RecentCapacity} (RecentCapacity), not "${raw.slice(0, 40)}"`,
            { Parameter: 'limit' },
          );
        }
        output.answerJson(recent.slice(-limit).reverse());
      },
      { hostAction: true, methods: ['GET'] },
    );

    return { close: () => audit?.close() };
  },
});

async function describeInstance(instance: DicomInstance, instanceId: string): Promise<StoredInstanceRecord> {
  const [metadata, size, tags, origin] = await Promise.all([
    instance.getAllMetadata(),
    instance.getInstanceSize(),
    instance.getInstanceSimplifiedJson(),
    instance.getInstanceOrigin(),
  ]);
  return {
    Time: new Date().toISOString(),
    InstanceId: instanceId,
    ReceptionDate: metadata.ReceptionDate ?? null,
    Size: size,
    TransferSyntax: metadata.TransferSyntax ?? null,
    // Orthanc records SopClassUid as metadata; an instance stored without it shows it in its tags.
    SopClassUid: metadata.SopClassUid ?? (typeof tags.SOPClassUID === 'string' ? tags.SOPClassUID : null),
    Origin: instanceOriginName(origin),
    RemoteAet: metadata.RemoteAET ?? '',
    Tags: tags,
  };
}
