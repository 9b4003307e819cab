import dcmjs from 'dcmjs';
import type { RawDataset } from './parse.js';

const { DicomMetaDictionary } = dcmjs.data;

/** What replaces a binary value in the JSON answer. */
export interface BinarySummary {
  BinaryLength: number;
}

/**
 * dcmjs's naturalized dataset (keywords as keys, `_meta` for the file meta information), each
 * binary value replaced by its length. Each dataset is naturalized once: dcmjs cannot naturalize
 * the same one twice.
 */
export function formatNaturalized(meta: RawDataset, dataset: RawDataset): Record<string, unknown> {
  const naturalized = DicomMetaDictionary.naturalizeDataset(dataset);
  naturalized._meta = DicomMetaDictionary.naturalizeDataset(meta);
  return summarizeBinary(naturalized) as Record<string, unknown>;
}

function summarizeBinary(value: unknown): unknown {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return { BinaryLength: value.byteLength } satisfies BinarySummary;
  if (Array.isArray(value)) return value.map(summarizeBinary);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, summarizeBinary(field)]));
  }
  return value;
}
