/** The levels mirrored, as Orthanc names them in its URIs. */
export const levels = ['patients', 'studies', 'series', 'instances'] as const;
export type Level = (typeof levels)[number];

/** A resource's JSON as Orthanc gives it (`GET /{level}/{id}`). */
export type ResourceJson = Record<string, unknown>;

/**
 * A store the recipe mirrors into. Every method is idempotent: the queue delivers at least once.
 */
export interface MirrorTarget {
  /** Names the target in logs and status (no credentials). */
  readonly name: string;
  /** Writes the resource's JSON, replacing what the store held for it. */
  upsert(level: Level, id: string, body: ResourceJson): Promise<void>;
  /** Removes the resource; nothing to remove is no error. */
  remove(level: Level, id: string): Promise<void>;
  /** What the store holds now, by level: id → the `LastUpdate` it was written with (null: none). */
  mirrored(): Promise<Mirrored>;
  close(): Promise<void>;
}

export type Mirrored = Record<Level, Map<string, string | null>>;
export const emptyMirrored = (): Mirrored => ({ patients: new Map(), studies: new Map(), series: new Map(), instances: new Map() });

export const lastUpdateOf = (body: ResourceJson): string | null => (typeof body.LastUpdate === 'string' ? body.LastUpdate : null);
