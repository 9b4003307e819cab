import { InstanceOrigin, instanceOriginName, type InstanceOriginValue, type ReceivedDicom } from '../../shared/binding/index.js';
import { checkDicomFilter, compileDicomFilter, compileDicomPattern } from '../../shared/dicom-match.js';
import { defineRecipe, type BridgeHookName, type OptionsIssue } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import { checkRestrictionFilter, restrictFindQuery } from './find-restriction.js';
import { orthancInstanceId } from './orthanc-id.js';
import schema from './schema.json' with { type: 'json' };

/** DIMSE 0xA700, out of resources: the modality may send again later. */
const OUT_OF_RESOURCES = 0xa700;

/** Orthanc's names of an instance's origin, as a filter's `Origin` matches them. */
const originNames: Readonly<Record<InstanceOriginValue, string>> = {
  [InstanceOrigin.UNKNOWN]: 'Unknown',
  [InstanceOrigin.DICOM_PROTOCOL]: 'DicomProtocol',
  [InstanceOrigin.REST_API]: 'RestApi',
  [InstanceOrigin.PLUGIN]: 'Plugins',
  [InstanceOrigin.LUA]: 'Lua',
  [InstanceOrigin.WEB_DAV]: 'WebDav',
};

/** The bridge's hooks these options use: reception when a rule or the quota can refuse, C-FINDs when restricted. */
function hooksUsed(options: Options): BridgeHookName[] {
  const refusesReception = options.Rules.length > 0 || options.Quota.MaxInstancesPerRemoteAet > 0;
  return [
    ...(refusesReception ? (['ReceivedInstanceFilter', 'ReceivedCStoreInstanceFilter'] as const) : []),
    ...(options.FindRestrictions.length > 0 ? (['IncomingFindRequestFilter'] as const) : []),
  ];
}

/**
 * The Python samples "Filtering incoming C-Store" (a quota per sending AET) and Orthanc's Lua
 * `ReceivedInstanceFilter`, as rules: runs inside Orthanc's reception through the Lua bridge, so
 * a refused instance is never stored and the sender hears why.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'receive-filter',
    title: 'Receive filter',
    description:
      'Accepts or refuses each instance Orthanc receives, by rules on its tags and its sender, with a quota per sending AET (refused instances are never stored), and restricts what a calling AET finds by C-FIND.',
    category: 'Routing',
    routes: ['GET /recipes/receive-filter/status'],
    events: [],
    bridge: ['ReceivedInstanceFilter', 'ReceivedCStoreInstanceFilter', 'IncomingFindRequestFilter'],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#filtering-incoming-c-store',
  },
  schema,
  check(options) {
    const issues: OptionsIssue[] = [];
    options.Rules.forEach((rule, index) => {
      for (const { key, message } of checkDicomFilter(rule.Filter))
        issues.push({ pointer: `/Rules/${index}/Filter/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, message });
    });
    options.FindRestrictions.forEach((restriction, index) => {
      const pointer = (key: string) => `/FindRestrictions/${index}/Filter/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      for (const { key, message } of [...checkRestrictionFilter(restriction.Filter), ...checkDicomFilter(restriction.Filter)])
        issues.push({ pointer: pointer(key), message });
      if (checkDicomFilter({ RemoteAET: restriction.RemoteAET }).length > 0)
        issues.push({ pointer: `/FindRestrictions/${index}/RemoteAET`, message: 'not a usable DICOM pattern' });
    });
    return issues;
  },
  bridgeHooks: hooksUsed,
  async setup({ orthanc, log, database }, options) {
    await database.migrate([
      'CREATE TABLE {quota} (aet TEXT NOT NULL, period BIGINT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (aet, period))',
    ]);
    const rules = options.Rules.map((rule) => ({ ...rule, matches: compileDicomFilter(rule.Filter) }));
    const counts = { RefusedByRule: 0, RefusedByQuota: 0, RefusedQueries: 0 };
    const restrictions = options.FindRestrictions.map((restriction) => ({
      ...restriction,
      caller: compileDicomPattern(restriction.RemoteAET, { caseSensitive: true }),
    }));
    const { MaxInstancesPerRemoteAet: quota, PeriodSeconds: periodSeconds } = options.Quota;
    const periodOf = (now: number) => Math.floor(now / 1000 / periodSeconds) * periodSeconds * 1000;

    /** The index of the first rule that matches, or -1. */
    const firstMatch = (dicom: ReceivedDicom, origin: InstanceOriginValue, remoteAet: string, calledAet: string): number => {
      const lookup = (key: string) => {
        if (key === 'RemoteAET') return remoteAet;
        if (key === 'CalledAET') return calledAet;
        if (key === 'Origin') return originNames[origin];
        const value = Object.hasOwn(dicom.tags, key) ? dicom.tags[key] : undefined;
        return typeof value === 'string' ? value.split('\\') : undefined;
      };
      return rules.findIndex((rule) => rule.matches(lookup));
    };
    const refused = (dicom: ReceivedDicom, why: string) => {
      // The ID Orthanc would have given the instance: never a patient's name or ID in the log.
      const instanceId = orthancInstanceId(dicom.tags);
      log.info('refused instance', { instance: instanceId, reason: why });
    };

    const hooks = new Set(hooksUsed(options));
    // Every origin: REST, C-STORE, DICOMweb through a plugin, Lua, WebDAV.
    if (hooks.has('ReceivedInstanceFilter'))
      orthanc.registerReceivedInstanceFilter((dicom, origin, remoteAet, calledAet) => {
        const rule = firstMatch(dicom, origin, remoteAet, calledAet);
        if (rule < 0 || rules[rule]!.Action === 'Accept') return true;
        counts.RefusedByRule += 1;
        refused(dicom, `rule ${rule} (${instanceOriginName(origin)}${remoteAet ? ` from ${remoteAet}` : ''})`);
        return false;
      });

    // C-STOREs that the rules let through: the quota per sending AET (the Python sample's).
    if (hooks.has('ReceivedCStoreInstanceFilter'))
      orthanc.registerIncomingCStoreInstanceFilter(async (dicom, _origin, remoteAet) => {
        if (quota > 0) {
          const period = periodOf(Date.now());
          const used =
            (await database.get<{ count: number }>('SELECT count FROM {quota} WHERE aet = ? AND period = ?', [remoteAet, period]))?.count ??
            0;
          if (used >= quota) {
            counts.RefusedByQuota += 1;
            refused(dicom, `quota of ${quota} instances reached for ${remoteAet}`);
            return OUT_OF_RESOURCES;
          }
          await database.run(
            'INSERT INTO {quota} (aet, period, count) VALUES (?, ?, 1) ON CONFLICT (aet, period) DO UPDATE SET count = {quota}.count + 1',
            [remoteAet, period],
          );
        }
        return 0;
      });

    // C-FINDs on Orthanc's own port: the calling AET's restriction, if any, imposed on the query
    // (without restrictions the script does not ask the host about C-FINDs: see hooksUsed).
    if (hooks.has('IncomingFindRequestFilter'))
      orthanc.registerIncomingFindRequestFilter((query, origin) => {
        const restriction = restrictions.find((candidate) => candidate.caller(origin.remoteAet));
        if (!restriction) return query;
        const restricted = restrictFindQuery(query, restriction.Filter);
        if ('query' in restricted) return restricted.query;
        counts.RefusedQueries += 1;
        log.info('refused a C-FIND', { aet: origin.remoteAet, reason: restricted.refused });
        return null;
      });

    orthanc.registerRestCallback(
      '/recipes/receive-filter/status',
      async (output) => {
        const period = periodOf(Date.now());
        const usage =
          quota > 0
            ? await database.all<{ aet: string; count: number }>('SELECT aet, count FROM {quota} WHERE period = ? ORDER BY aet', [period])
            : [];
        output.answerJson({
          ...counts,
          Quota: {
            MaxInstancesPerRemoteAet: quota,
            PeriodStart: new Date(period).toISOString(),
            Used: Object.fromEntries(usage.map((row) => [row.aet, row.count])),
          },
        });
      },
      { hostAction: true, methods: ['GET'] },
    );
  },
});
