import { InstanceOrigin, instanceOriginFromOrthanc, type InstanceOriginValue } from './enums.js';
import { describe } from './errors.js';
import type { Logger } from './logger.js';

/**
 * An instance Orthanc is receiving, as its Lua filters see it before storing it: the main
 * tags in Orthanc's simplified form (`{"PatientID": "…", "Modality": "CT", …}`, every value a
 * string or nested sequence), no pixel data, no Orthanc ID yet.
 */
export interface ReceivedDicom {
  /** Simplified tags, by keyword; values as Orthanc gives them (strings, `\`-separated multi-values). */
  tags: Readonly<Record<string, unknown>>;
  /** `info.TransferSyntaxUID` of Orthanc's Lua callback, when known. */
  transferSyntaxUid?: string;
  /** `info.HasPixelData`, when known. */
  hasPixelData?: boolean;
  /** The caller's IP address (HTTP or DICOM). */
  remoteIp?: string;
  /** The HTTP user name, for a REST upload. */
  username?: string;
}

/**
 * `registerReceivedInstanceFilter`'s callback, the counterpart of the Python plugin's
 * `RegisterIncomingDicomInstanceFilter`: true keeps the instance, false makes Orthanc refuse it
 * (a REST upload answers `FilteredOut`; a C-STORE fails). `remoteAet`/`calledAet` are empty
 * outside DICOM.
 */
export type ReceivedInstanceFilter = (
  dicom: ReceivedDicom,
  origin: InstanceOriginValue,
  remoteAet: string,
  calledAet: string,
) => boolean | Promise<boolean>;

/**
 * `registerIncomingCStoreInstanceFilter`'s callback (Orthanc 1.10.0+), the counterpart of the
 * Python plugin's: called for C-STORE only; 0 accepts, any other DIMSE status (0xA700 "out of
 * resources", 0xC000 "cannot understand", …) refuses the instance. Through Orthanc's Lua the
 * modality always hears 0xA700 (Lua cannot pass another status on; see host/bridge-script.ts).
 */
export type IncomingCStoreInstanceFilter = (
  dicom: ReceivedDicom,
  origin: InstanceOriginValue,
  remoteAet: string,
  calledAet: string,
) => number | Promise<number>;

/** What Orthanc's Lua bridge sends for one received instance (the script's `DumpJson` of its arguments). */
export interface ReceivedNotice {
  dicom?: unknown;
  origin?: { RequestOrigin?: string; RemoteAet?: string; CalledAet?: string; RemoteIp?: string; Username?: string };
  info?: { HasPixelData?: boolean; TransferSyntaxUID?: string };
}

/**
 * A C-FIND query (patient, study, series or instance level) as Orthanc's Lua
 * `IncomingFindRequestFilter` gives it: tag `gggg,eeee` in lower-case hex → value, `""` for a key
 * only asked for (`{"0008,0052": "STUDY", "0010,0020": "", "0008,0080": "NORTH*"}`). Sequences are
 * not in it. A filter may also return keys by keyword (`InstitutionName`): Orthanc reads both.
 */
export type FindRequestQuery = Record<string, string>;

/**
 * A worklist C-FIND query as Orthanc's Lua `IncomingWorklistRequestFilter` gives it (Orthanc's
 * "short" JSON): tag `gggg,eeee` → string, or for a sequence an array of such objects
 * (`{"0010,0020": "", "0040,0100": [{"0008,0060": "MR", "0040,0001": ""}]}`).
 */
export type WorklistRequestQuery = Record<string, unknown>;

/** Who sends a C-FIND, as Orthanc's Lua tells it. */
export interface FindRequestOrigin {
  remoteAet: string;
  calledAet: string;
  remoteIp: string;
  /** Orthanc's `Manufacturer` of the calling modality (`Generic` unless configured). */
  manufacturer: string;
}

/**
 * `registerIncomingFindRequestFilter`'s callback, after Orthanc's Lua `IncomingFindRequestFilter`
 * (the Python plugin has no counterpart): answers the query Orthanc will run instead of the one
 * received (the same object, changed, or a new one), or null to refuse the C-FIND: the SCU hears
 * 0xC000 "unable to process" (Orthanc's Lua cannot give another status). Orthanc's worklist plugin
 * never sees this filter (see `IncomingWorklistRequestFilter`).
 */
export type IncomingFindRequestFilter = (
  query: FindRequestQuery,
  origin: FindRequestOrigin,
) => FindRequestQuery | null | Promise<FindRequestQuery | null>;

/**
 * `registerIncomingWorklistRequestFilter`'s callback, after Orthanc's Lua
 * `IncomingWorklistRequestFilter`: the same for worklist C-FINDs, before a worklist plugin answers
 * them; null refuses (0xC000).
 */
export type IncomingWorklistRequestFilter = (
  query: WorklistRequestQuery,
  origin: FindRequestOrigin,
) => WorklistRequestQuery | null | Promise<WorklistRequestQuery | null>;

/** What Orthanc's Lua bridge sends for one C-FIND (the script's `DumpJson` of its arguments). */
export interface FindRequestNotice {
  query?: unknown;
  origin?: { RemoteAet?: unknown; CalledAet?: unknown; RemoteIp?: unknown; Manufacturer?: unknown };
}

interface Registered<F> {
  owner: string;
  filter: F;
}

/** A DIMSE status is a 16-bit unsigned number. */
const isDimseStatus = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffff;

/** 0xC000, "cannot understand": what a C-STORE filter that fails answers. */
export const DIMSE_CANNOT_UNDERSTAND = 0xc000;

/**
 * The hooks that only Orthanc's process sees (received-instance filters), registered by recipes
 * and called by the host's bridge when Orthanc's Lua script asks. Every registered filter must
 * accept; a filter that throws refuses (and is logged), since Orthanc would refuse too.
 */
export class BridgeHooks {
  private readonly received: Registered<ReceivedInstanceFilter>[] = [];
  private readonly cstore: Registered<IncomingCStoreInstanceFilter>[] = [];
  private readonly find: Registered<IncomingFindRequestFilter>[] = [];
  private readonly worklist: Registered<IncomingWorklistRequestFilter>[] = [];

  constructor(private readonly log: Logger) {}

  addReceivedInstanceFilter(owner: string, filter: ReceivedInstanceFilter): () => void {
    return add(this.received, { owner, filter });
  }

  addIncomingCStoreInstanceFilter(owner: string, filter: IncomingCStoreInstanceFilter): () => void {
    return add(this.cstore, { owner, filter });
  }

  addIncomingFindRequestFilter(owner: string, filter: IncomingFindRequestFilter): () => void {
    return add(this.find, { owner, filter });
  }

  addIncomingWorklistRequestFilter(owner: string, filter: IncomingWorklistRequestFilter): () => void {
    return add(this.worklist, { owner, filter });
  }

  get hasReceivedInstanceFilters(): boolean {
    return this.received.length > 0;
  }

  get hasCStoreFilters(): boolean {
    return this.cstore.length > 0;
  }

  /** Whether every received-instance filter keeps this instance. */
  async filterReceived(notice: ReceivedNotice): Promise<boolean> {
    const [dicom, origin, remoteAet, calledAet] = argumentsOf(notice);
    for (const { owner, filter } of this.received) {
      try {
        if ((await filter(dicom, origin, remoteAet, calledAet)) !== true) return false;
      } catch (error) {
        this.log.error(`recipe ${owner}: received-instance filter failed, the instance is refused: ${describe(error)}`, { recipe: owner });
        return false;
      }
    }
    return true;
  }

  /** The DIMSE status for this C-STORE: the first filter's that is not 0, else 0. */
  async filterCStore(notice: ReceivedNotice): Promise<number> {
    const [dicom, origin, remoteAet, calledAet] = argumentsOf(notice);
    for (const { owner, filter } of this.cstore) {
      let status: unknown;
      try {
        status = await filter(dicom, origin, remoteAet, calledAet);
      } catch (error) {
        this.log.error(`recipe ${owner}: C-STORE filter failed, the instance is refused: ${describe(error)}`, { recipe: owner });
        return DIMSE_CANNOT_UNDERSTAND;
      }
      if (!isDimseStatus(status)) {
        this.log.error(`recipe ${owner}: C-STORE filter answered ${String(status)}, not a DIMSE status; the instance is refused`, {
          recipe: owner,
        });
        return DIMSE_CANNOT_UNDERSTAND;
      }
      if (status !== 0) return status;
    }
    return 0;
  }

  get hasFindRequestFilters(): boolean {
    return this.find.length > 0;
  }

  get hasWorklistRequestFilters(): boolean {
    return this.worklist.length > 0;
  }

  /**
   * The C-FIND query once every find filter has had it, in registration order (each gets the
   * previous one's answer), or null when one refuses, throws, or answers something other than a
   * map of tags to strings (Orthanc would fail the C-FIND on it anyway).
   */
  filterFindRequest(notice: FindRequestNotice): Promise<FindRequestQuery | null> {
    const isFindQuery = (value: unknown): value is FindRequestQuery =>
      isPlainObject(value) && Object.values(value).every((item) => typeof item === 'string');
    return this.runQueryFilters(this.find, notice, 'C-FIND', isFindQuery);
  }

  /** The same for a worklist C-FIND (values are strings, or arrays of objects for sequences). */
  filterWorklistRequest(notice: FindRequestNotice): Promise<WorklistRequestQuery | null> {
    return this.runQueryFilters(this.worklist, notice, 'worklist C-FIND', isPlainObject);
  }

  private async runQueryFilters<Q extends Record<string, unknown>>(
    filters: readonly Registered<(query: Q, origin: FindRequestOrigin) => Q | null | Promise<Q | null>>[],
    notice: FindRequestNotice,
    what: string,
    isQuery: (value: unknown) => value is Q,
  ): Promise<Q | null> {
    // Lua's DumpJson writes an empty table as [].
    let query: unknown = Array.isArray(notice.query) && notice.query.length === 0 ? {} : notice.query;
    if (!isQuery(query)) {
      this.log.error(`${what} query from Orthanc's script is not a map of tags; the C-FIND is refused`);
      return null;
    }
    const origin = findOriginOf(notice);
    for (const { owner, filter } of filters) {
      try {
        query = await filter(query, origin);
      } catch (error) {
        this.log.error(`recipe ${owner}: ${what} filter failed, the query is refused: ${describe(error)}`, { recipe: owner });
        return null;
      }
      if (query === null) return null;
      if (!isQuery(query)) {
        this.log.error(`recipe ${owner}: ${what} filter answered something other than a query; the query is refused`, { recipe: owner });
        return null;
      }
    }
    return query;
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown) => (typeof value === 'string' ? value : '');

function findOriginOf(notice: FindRequestNotice): FindRequestOrigin {
  const origin = isPlainObject(notice.origin) ? notice.origin : {};
  return {
    remoteAet: text(origin.RemoteAet),
    calledAet: text(origin.CalledAet),
    remoteIp: text(origin.RemoteIp),
    manufacturer: text(origin.Manufacturer),
  };
}

function add<T>(list: T[], entry: T): () => void {
  list.push(entry);
  return () => {
    const index = list.indexOf(entry);
    if (index >= 0) list.splice(index, 1);
  };
}

function argumentsOf(notice: ReceivedNotice): [ReceivedDicom, InstanceOriginValue, string, string] {
  const origin = notice.origin ?? {};
  const tags =
    typeof notice.dicom === 'object' && notice.dicom !== null && !Array.isArray(notice.dicom)
      ? (notice.dicom as Record<string, unknown>)
      : {};
  const dicom: ReceivedDicom = {
    tags,
    transferSyntaxUid: notice.info?.TransferSyntaxUID,
    hasPixelData: notice.info?.HasPixelData,
    remoteIp: origin.RemoteIp,
    username: origin.Username,
  };
  const requestOrigin = Object.hasOwn(instanceOriginFromOrthanc, origin.RequestOrigin ?? '')
    ? instanceOriginFromOrthanc[origin.RequestOrigin!]!
    : InstanceOrigin.UNKNOWN;
  return [dicom, requestOrigin, origin.RemoteAet ?? '', origin.CalledAet ?? ''];
}
