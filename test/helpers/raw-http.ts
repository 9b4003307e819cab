import { connect, type Socket } from 'node:net';

/** One HTTP answer as it came over the wire. */
export interface WireAnswer {
  version: string;
  status: number;
  reason: string;
  /** Header names in lower case; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
  /** Interim answers (`100 Continue`) received before this one. */
  interim: number[];
}

/** How a connection ended: the peer's FIN, a reset, or not at all (still open). */
export type ConnectionEnd = 'open' | 'closed' | 'reset';

/**
 * A raw TCP connection for conformance tests: writes exactly the bytes given, parses answers as
 * they arrive (Content-Length, chunked or close-delimited bodies; 1xx skipped and recorded), and
 * tells a clean close (FIN) from a reset. No HTTP library sits in between to hide a difference.
 */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private ended: 'closed' | 'reset' | undefined;
  private wake: (() => void) | undefined;
  readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on('end', () => {
      this.ended ??= 'closed';
      this.notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.ended = error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 'reset' : (this.ended ?? 'reset');
      this.notify();
    });
    socket.on('close', () => {
      this.ended ??= 'closed';
      this.notify();
    });
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      // Half-open allowed: like most clients, it goes on uploading after the server's FIN.
      const socket = connect({ port: Number(port), host: hostname.replace(/^\[|\]$/g, ''), allowHalfOpen: true }, () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Writes bytes; resolves once they are handed to the kernel (rejects if the peer reset). */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('the connection is closed'));
      this.socket.write(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Writes `total` bytes of filler in chunks (on after the peer's FIN); stops early, without error, at a reset. */
  async writeFiller(total: number, chunkSize = 256 * 1024): Promise<number> {
    const chunk = Buffer.alloc(chunkSize, 0x41);
    let written = 0;
    while (written < total && !this.socket.destroyed && this.ended !== 'reset') {
      const size = Math.min(chunkSize, total - written);
      try {
        await this.write(size === chunkSize ? chunk : chunk.subarray(0, size));
      } catch {
        break;
      }
      written += size;
    }
    return written;
  }

  /** Half-closes: sends FIN, keeps reading. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** How the connection stands now. */
  get state(): ConnectionEnd {
    return this.ended ?? 'open';
  }

  /** Waits until the peer closes (or resets) the connection, or `timeoutMs` passes. */
  async waitForEnd(timeoutMs = 5_000): Promise<ConnectionEnd> {
    const deadline = Date.now() + timeoutMs;
    while (this.ended === undefined && Date.now() < deadline) await this.waitForData(deadline);
    return this.state;
  }

  /**
   * Reads the next answer; `head` for an answer to HEAD (no body). Rejects when nothing complete
   * arrives within `timeoutMs`, with the bytes seen so far.
   */
  async readAnswer(options: { head?: boolean; timeoutMs?: number } = {}): Promise<WireAnswer> {
    const deadline = Date.now() + (options.timeoutMs ?? 5_000);
    const interim: number[] = [];
    for (;;) {
      const parsed = this.parse(options.head ?? false);
      if (parsed) {
        if (parsed.status >= 100 && parsed.status < 200) {
          interim.push(parsed.status);
          continue;
        }
        return { ...parsed, interim };
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `no complete answer within ${options.timeoutMs ?? 5_000} ms (connection ${this.state}); received: ${JSON.stringify(this.buffer.subarray(0, 300).toString('latin1'))}`,
        );
      }
      await this.waitForData(deadline);
    }
  }

  /** Bytes received and not yet parsed as an answer. */
  get pending(): Buffer {
    return this.buffer;
  }

  private waitForData(deadline: number): Promise<void> {
    if (this.ended !== undefined) return new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(20, deadline - Date.now()))));
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.wake = undefined;
          resolve();
        },
        Math.max(0, deadline - Date.now()),
      );
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private notify(): void {
    this.wake?.();
  }

  /** Parses one answer off the front of the buffer, or returns undefined when more bytes are needed. */
  private parse(head: boolean): Omit<WireAnswer, 'interim'> | undefined {
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const lines = this.buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
    const statusLine = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!statusLine) throw new Error(`not an HTTP answer: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(statusLine[2]);
    const start = headEnd + 4;
    const answer = (bodyEnd: number, body: Buffer) => {
      this.buffer = this.buffer.subarray(bodyEnd);
      return { version: statusLine[1]!, status, reason: statusLine[3]!, headers, body };
    };
    if (head || status < 200 || status === 204 || status === 304) return answer(start, Buffer.alloc(0));
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let at = start;
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(this.buffer.subarray(at, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          const trailerEnd = this.buffer.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd < 0) return undefined;
          return answer(trailerEnd + 4, Buffer.concat(parts));
        }
        if (this.buffer.length < lineEnd + 2 + size + 2) return undefined;
        parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
    }
    if (headers['content-length'] !== undefined) {
      const end = start + Number(headers['content-length']);
      return this.buffer.length >= end ? answer(end, Buffer.from(this.buffer.subarray(start, end))) : undefined;
    }
    // Close-delimited (an HTTP/1.0 answer, or one with Connection: close and no length).
    return this.ended !== undefined ? answer(this.buffer.length, Buffer.from(this.buffer.subarray(start))) : undefined;
  }
}

/** A request's head as raw bytes: `request('POST', '/instances', { 'Content-Length': 3 })`. */
export function requestHead(method: string, path: string, headers: Record<string, string | number> = {}, version = 'HTTP/1.1'): string {
  const lines = [
    `${method} ${path} ${version}`,
    ...(Object.keys(headers).some((h) => h.toLowerCase() === 'host') ? [] : ['Host: localhost']),
  ];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Sends one request on a fresh connection and reads one answer; the connection is left to the caller. */
export async function exchange(
  url: string,
  request: string | Buffer,
  options: { head?: boolean; timeoutMs?: number } = {},
): Promise<{ answer: WireAnswer; connection: RawConnection }> {
  const connection = await RawConnection.open(url);
  await connection.write(request);
  const answer = await connection.readAnswer(options);
  return { answer, connection };
}
