import { formatNaturalized } from './format-json.js';
import { formatDump } from './format-text.js';
import { InflatedTooLarge, parsePart10, releaseBuffer, type ParsedFile } from './parse.js';

export interface DumpInput {
  /** The DICOM file, whole or in chunks (joined here); moved to the worker. */
  file: ArrayBuffer | ArrayBuffer[];
  format: 'text' | 'json';
  /** Most bytes a deflated dataset may inflate to. */
  maxInflatedBytes: number;
}

/**
 * The dump as UTF-8 bytes (moved back), or why dcmjs could not read the file: `status` 413 when
 * it is too large once inflated, 422 otherwise.
 */
export type DumpOutput = { ok: true; body: Uint8Array } | { ok: false; status: 413 | 422; reason: string };

/**
 * The worker task: parses the file with dcmjs and formats it, away from the event loop. The
 * file's memory (and its inflated copy's) is given back as soon as the dump is written.
 */
export default function dumpTask({ file: input, format, maxInflatedBytes }: DumpInput): DumpOutput {
  let parsed: ParsedFile | undefined;
  const file = Array.isArray(input) ? join(input) : input;
  try {
    try {
      parsed = parsePart10(new Uint8Array(file), { maxInflatedBytes });
    } catch (error) {
      if (error instanceof InflatedTooLarge) return { ok: false, status: 413, reason: error.message };
      return { ok: false, status: 422, reason: error instanceof Error ? error.message : String(error) };
    }
    try {
      const text =
        format === 'json'
          ? `${JSON.stringify(formatNaturalized(parsed.meta, parsed.dataset), jsonSafe, 2)}\n`
          : formatDump(parsed.meta, parsed.dataset);
      return { ok: true, body: new TextEncoder().encode(text) };
    } catch (error) {
      return {
        ok: false,
        status: 422,
        reason: `dcmjs read the file, but its dataset cannot be shown: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  } finally {
    if (parsed) releaseBuffer(parsed.buffer);
    releaseBuffer(file);
  }
}

/** The chunks in one ArrayBuffer; each chunk is freed once copied. */
function join(chunks: ArrayBuffer[]): ArrayBuffer {
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(new Uint8Array(chunk), offset);
    offset += chunk.byteLength;
    releaseBuffer(chunk);
  }
  return whole.buffer;
}

/** JSON has no BigInt (dcmjs reads SV and UV as BigInt). */
const jsonSafe = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);
