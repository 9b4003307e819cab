import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AuditFileOptions {
  /** Absolute path of the current file; rotated files are `<path>.1` (newest) to `<path>.<keep>`. */
  path: string;
  /** The current file is rotated before a line would take it past this size. */
  maxBytes: number;
  /** Rotated files kept; 0 to drop the old lines at rotation. */
  keep: number;
}

/**
 * A JSON-lines file, appended safely and rotated by size. Each line is one `write` on a file
 * opened with O_APPEND, so a line is never split or overwritten, even by another writer; lines
 * are written in the order `append` was called. One process should own a file's rotation.
 */
export class AuditFile {
  private handle: FileHandle | undefined;
  private size = 0;
  private queue: Promise<void> = Promise.resolve();

  private constructor(private readonly options: AuditFileOptions) {}

  /** Opens (and creates, with its folder) the file; fails early when it cannot be written. */
  static async open(options: AuditFileOptions): Promise<AuditFile> {
    const file = new AuditFile(options);
    try {
      await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
      await file.reopen();
    } catch (error) {
      throw new Error(`cannot open the audit file ${options.path}: ${(error as Error).message}`, { cause: error });
    }
    return file;
  }

  private async reopen(): Promise<void> {
    // Patient data: readable by this user only (a file made by an earlier version is made so too).
    this.handle = await open(this.options.path, 'a', 0o600);
    await this.handle.chmod(0o600);
    this.size = (await this.handle.stat()).size;
  }

  /** Appends `record` as one line; resolves once it is written (rejects when it could not be). */
  append(record: unknown): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    const written = this.queue.then(() => this.write(line));
    this.queue = written.catch(() => undefined);
    return written;
  }

  private async write(line: Buffer): Promise<void> {
    if (!this.handle) throw new Error(`${this.options.path} is closed`);
    if (this.size > 0 && this.size + line.length > this.options.maxBytes) await this.rotate();
    let offset = 0;
    // One write(2) for a line in practice; a short write (disk full) continues where it stopped.
    while (offset < line.length) {
      const { bytesWritten } = await this.handle.write(line, offset);
      offset += bytesWritten;
    }
    this.size += line.length;
  }

  private async rotate(): Promise<void> {
    const { path, keep } = this.options;
    await this.handle?.close();
    this.handle = undefined;
    await rm(`${path}.${keep + 1}`, { force: true });
    for (let n = keep - 1; n >= 1; n -= 1) await renameIfExists(`${path}.${n}`, `${path}.${n + 1}`);
    if (keep >= 1) await renameIfExists(path, `${path}.1`);
    else await rm(path, { force: true });
    await this.reopen();
  }

  /** Waits for the lines already appended, then closes the file. */
  async close(): Promise<void> {
    await this.queue;
    await this.handle?.close();
    this.handle = undefined;
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
