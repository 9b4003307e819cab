import { createServer, request as forward, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the upstream does with a request that `failing` selects. */
export type UpstreamFault = { status: number } | 'hang' | 'reset';

/** One request as the upstream received it. */
export interface RecordedRequest {
  method: string;
  url: string;
  /** Raw header names and values as sent, in order: `[name, value, name, value, ...]`. */
  rawHeaders: string[];
  /** Header names in lower case; repeated headers joined with `, `. */
  headers: Record<string, string>;
}

/**
 * An HTTP server between the host and the real Orthanc: it records every request it receives
 * and passes it on, unless a fault is set for it (an error status as a failing proxy sends it,
 * no answer at all, or a reset). Stands for whatever may sit between the host and Orthanc.
 */
export class TestUpstream {
  readonly recorded: RecordedRequest[] = [];
  /** The fault to apply, and to which requests (default: every request). */
  fault: { what: UpstreamFault; applies: (request: RecordedRequest) => boolean } | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly target: URL,
  ) {}

  static async start(targetUrl: string): Promise<TestUpstream> {
    const server = createServer();
    const upstream = new TestUpstream(server, new URL(targetUrl));
    server.on('connection', (socket: Socket) => {
      upstream.sockets.add(socket);
      socket.once('close', () => upstream.sockets.delete(socket));
    });
    server.on('request', (request, response) => upstream.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return upstream;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The requests received for `path` (without the query), oldest first. */
  requestsFor(path: string): RecordedRequest[] {
    return this.recorded.filter((r) => r.url.split('?')[0] === path);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: import('node:http').ServerResponse): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers))
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      rawHeaders: [...request.rawHeaders],
      headers,
    };
    this.recorded.push(recorded);
    const fault = this.fault && this.fault.applies(recorded) ? this.fault.what : undefined;
    if (fault === 'hang') return void request.resume();
    if (fault === 'reset') return void request.socket.destroy();
    if (fault !== undefined) {
      request.resume();
      const body = `<html><body>${fault.status} from a proxy</body></html>`;
      response.writeHead(fault.status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
      response.end(body);
      return;
    }
    const raw: string[] = [];
    for (let i = 0; i < request.rawHeaders.length; i += 2) {
      if (request.rawHeaders[i]!.toLowerCase() !== 'host') raw.push(request.rawHeaders[i]!, request.rawHeaders[i + 1]!);
    }
    // Orthanc sees the Host the host sent (the DICOMweb plugin builds URLs from it).
    const outgoing = forward(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: request.method,
        path: request.url,
        headers: [...raw, 'Host', headers.host ?? this.target.host],
        setHost: false,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
        answer.pipe(response);
      },
    );
    outgoing.on('error', () => response.destroy());
    request.pipe(outgoing);
  }
}
