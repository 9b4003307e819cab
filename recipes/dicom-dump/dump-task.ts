import { formatNaturalized } from './format-json.js';
import { formatDump } from './format-text.js';
import { parsePart10 } from './parse.js';

export interface DumpInput {
  /** The DICOM file; moved to the worker. */
  file: ArrayBuffer;
  format: 'text' | 'json';
}

/** The dump as UTF-8 bytes (moved back), or why dcmjs could not read the file. */
export type DumpOutput = { ok: true; body: Uint8Array } | { ok: false; reason: string };

/** The worker task: parses the file with dcmjs and formats it, away from the event loop. */
export default function dumpTask({ file, format }: DumpInput): DumpOutput {
  let parsed;
  try {
    parsed = parsePart10(new Uint8Array(file));
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
  try {
    const text = format === 'json' ? `${JSON.stringify(formatNaturalized(parsed.meta, parsed.dataset), jsonSafe, 2)}\n` : formatDump(parsed.meta, parsed.dataset);
    return { ok: true, body: new TextEncoder().encode(text) };
  } catch (error) {
    return { ok: false, reason: `dcmjs read the file, but its dataset cannot be shown: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** JSON has no BigInt (dcmjs reads SV and UV as BigInt). */
const jsonSafe = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);
