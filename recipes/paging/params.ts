/** The study-level keys a page may be sorted by, and their column in the index. */
export const sortKeys = {
  StudyDate: 'study_date',
  StudyTime: 'study_time',
  PatientName: 'patient_name',
  PatientID: 'patient_id',
  PatientBirthDate: 'patient_birth_date',
  AccessionNumber: 'accession_number',
  StudyDescription: 'study_description',
  StudyInstanceUID: 'study_uid',
} as const;

export type SortKey = keyof typeof sortKeys;

export interface PageRequest {
  offset: number;
  limit: number;
  sort: SortKey;
  order: 'asc' | 'desc';
}

export class BadParameter extends Error {}

const known = new Set(['offset', 'limit', 'sort', 'order']);
const digits = /^\d{1,9}$/;

/** Reads `?offset=&limit=&sort=&order=`; throws `BadParameter` saying what is wrong. */
export function parsePageRequest(query: Record<string, string>, defaults: { limit: number; maxLimit: number }): PageRequest {
  for (const name of Object.keys(query)) {
    if (!known.has(name)) throw new BadParameter(`unknown parameter "${name.slice(0, 40)}"; known: offset, limit, sort, order`);
  }
  const has = (name: string) => Object.prototype.hasOwnProperty.call(query, name);
  const offset = has('offset') ? integer('offset', query.offset!) : 0;
  const limit = has('limit') ? integer('limit', query.limit!) : defaults.limit;
  if (limit < 1 || limit > defaults.maxLimit) throw new BadParameter(`limit must be between 1 and ${defaults.maxLimit}, not ${limit}`);
  const sort = has('sort') ? query.sort! : 'StudyDate';
  if (!Object.prototype.hasOwnProperty.call(sortKeys, sort)) {
    throw new BadParameter(`sort must be one of ${Object.keys(sortKeys).join(', ')}, not "${sort.slice(0, 40)}"`);
  }
  const order = has('order') ? query.order! : 'asc';
  if (order !== 'asc' && order !== 'desc') throw new BadParameter(`order must be asc or desc, not "${order.slice(0, 40)}"`);
  return { offset, limit, sort: sort as SortKey, order };
}

function integer(name: string, value: string): number {
  if (!digits.test(value)) throw new BadParameter(`${name} must be a non-negative integer (at most 9 digits), not "${value.slice(0, 40)}"`);
  return Number(value);
}
