// The module every worker thread of the pool runs (see worker-pool.ts): it imports the task's
// module (once per thread; the module cache keeps it), calls its default export and sends the
// result back, moving the ArrayBuffers it holds rather than copying them.
import { Piscina } from 'piscina';

export interface TaskRequest {
  /** The task module's URL. */
  task: string;
  input: unknown;
}

export default async function runTask({ task, input }: TaskRequest): Promise<unknown> {
  const module = (await import(task)) as { default?: unknown };
  if (typeof module.default !== 'function') throw new TypeError(`${task} has no default export function`);
  const result: unknown = await (module.default as (input: unknown) => unknown)(input);
  const transfer = transferables(result);
  if (transfer.length === 0) return result;
  return Piscina.move({ [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: result } as unknown as ArrayBuffer);
}

/**
 * The ArrayBuffers of `value` (itself, or the fields of an object or array, two levels deep)
 * that can be moved: whole buffers only, since a view on part of a buffer (Node's Buffer pool)
 * shares it with other views that must keep working in this thread.
 */
function transferables(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const visit = (item: unknown, depth: number) => {
    if (item instanceof ArrayBuffer) found.add(item);
    else if (ArrayBuffer.isView(item)) {
      if (item.buffer instanceof ArrayBuffer && item.byteOffset === 0 && item.byteLength === item.buffer.byteLength) found.add(item.buffer);
    } else if (item !== null && typeof item === 'object' && depth < 2) {
      for (const field of Object.values(item)) visit(field, depth + 1);
    }
  };
  visit(value, 0);
  return [...found];
}
