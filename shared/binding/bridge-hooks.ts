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
export type ReceivedInstanceFilter = (dicom: ReceivedDicom, origin: InstanceOriginValue, remoteAet: string, calledAet: string) => boolean | Promise<boolean>;

/**
 * `registerIncomingCStoreInstanceFilter`'s callback (Orthanc 1.10.0+), the counterpart of the
 * Python plugin's: called for C-STORE only; 0 accepts, any other DIMSE status (0xA700 "out of
 * resources", 0xC000 "cannot understand", …) refuses the instance. Through Orthanc's Lua the
 * modality always hears 0xA700 (Lua cannot pass another status on; see host/bridge-script.ts).
 */
export type IncomingCStoreInstanceFilter = (dicom: ReceivedDicom, origin: InstanceOriginValue, remoteAet: string, calledAet: string) => number | Promise<number>;

/** What Orthanc's Lua bridge sends for one received instance (the script's `DumpJson` of its arguments). */
export interface ReceivedNotice {
  dicom?: unknown;
  origin?: { RequestOrigin?: string; RemoteAet?: string; CalledAet?: string; RemoteIp?: string; Username?: string };
  info?: { HasPixelData?: boolean; TransferSyntaxUID?: string };
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

  constructor(private readonly log: Logger) {}

  addReceivedInstanceFilter(owner: string, filter: ReceivedInstanceFilter): () => void {
    return add(this.received, { owner, filter });
  }

  addIncomingCStoreInstanceFilter(owner: string, filter: IncomingCStoreInstanceFilter): () => void {
    return add(this.cstore, { owner, filter });
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
        this.log.error(`recipe ${owner}: C-STORE filter answered ${String(status)}, not a DIMSE status; the instance is refused`, { recipe: owner });
        return DIMSE_CANNOT_UNDERSTAND;
      }
      if (status !== 0) return status;
    }
    return 0;
  }
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
  const tags = typeof notice.dicom === 'object' && notice.dicom !== null && !Array.isArray(notice.dicom) ? (notice.dicom as Record<string, unknown>) : {};
  const dicom: ReceivedDicom = {
    tags,
    transferSyntaxUid: notice.info?.TransferSyntaxUID,
    hasPixelData: notice.info?.HasPixelData,
    remoteIp: origin.RemoteIp,
    username: origin.Username,
  };
  const requestOrigin = Object.hasOwn(instanceOriginFromOrthanc, origin.RequestOrigin ?? '') ? instanceOriginFromOrthanc[origin.RequestOrigin!]! : InstanceOrigin.UNKNOWN;
  return [dicom, requestOrigin, origin.RemoteAet ?? '', origin.CalledAet ?? ''];
}
