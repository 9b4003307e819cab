import type { ServerResponse } from 'node:http';
import { BindingError } from './errors.js';

/**
 * The answer of a REST callback, as the Python plugin's `RestOutput`. Exactly one answer is sent:
 * a second one throws `ORC_ERR_ALREADY_ANSWERED`.
 */
export class RestOutput {
  private streaming = false;
  private passedOn = false;
  private readonly gone = new AbortController();

  /**
   * `passThrough` is what hands the current request on to Orthanc: the host gives its proxy's (the
   * binding never imports the host). Without it, `passThrough()` throws `ORC_ERR_NO_PASS_THROUGH`.
   */
  constructor(
    private readonly response: ServerResponse,
    private readonly passOn?: () => Promise<void>,
  ) {
    response.once('close', () => {
      if (!response.writableFinished)
        this.gone.abort(new BindingError('ORC_ERR_CLIENT_GONE', 'the client went away before the answer was complete'));
    });
  }

  /**
   * Aborted when the client goes away before the answer is complete: pass it to what produces
   * a long answer (`restApiGetStream(uri, { signal })`) so that the work stops with the client.
   */
  get signal(): AbortSignal {
    return this.gone.signal;
  }

  /** Whether an answer has started. */
  get answered(): boolean {
    return this.response.headersSent || this.streaming || this.passedOn;
  }

  /**
   * Answers with what Orthanc answers to this very request, as the Python plugin's
   * `RestApiGetAfterPlugins` lets a route fall back on Orthanc's own: the host's proxy sends it on
   * as the front would have (method, path, the whole query string as it came, repeated arguments
   * included, the body, the caller's credentials and forwarding headers) and streams Orthanc's
   * answer back, status and headers included. Orthanc decides with the caller's rights, not the
   * host's. Resolves when the answer is over; headers set before are not sent.
   */
  async passThrough(): Promise<void> {
    if (!this.passOn) throw new BindingError('ORC_ERR_NO_PASS_THROUGH', 'passThrough() needs the host: this answer has no way to Orthanc');
    this.claim();
    this.passedOn = true;
    for (const name of this.response.getHeaderNames()) this.response.removeHeader(name);
    await this.passOn();
  }

  private claim(): void {
    if (this.answered) throw new BindingError('ORC_ERR_ALREADY_ANSWERED', 'this request was already answered');
  }

  /** Sets a header of the answer; call it before answering. */
  setHttpHeader(name: string, value: string): void {
    if (this.answered) throw new BindingError('ORC_ERR_ALREADY_ANSWERED', `too late to set header ${name}`);
    this.response.setHeader(name, value);
  }

  /** Answers `data`; `mimeType` undefined sends no Content-Type (as Orthanc does for some errors). */
  answerBuffer(data: string | Uint8Array, mimeType: string | undefined, status = 200): void {
    this.claim();
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.response.writeHead(
      status,
      mimeType === undefined ? { 'content-length': body.byteLength } : { 'content-type': mimeType, 'content-length': body.byteLength },
    );
    this.response.end(body);
  }

  /** Answers `value` as JSON (a convenience the Python plugin lacks). */
  answerJson(value: unknown, status = 200): void {
    this.answerBuffer(JSON.stringify(value, null, 2) + '\n', 'application/json; charset=utf-8', status);
  }

  /** Answers a bare status, with an optional text body. */
  sendHttpStatus(status: number, body?: string | Uint8Array): void {
    if (body === undefined) {
      this.claim();
      this.response.writeHead(status, { 'content-length': 0 });
      this.response.end();
    } else {
      this.answerBuffer(body, 'text/plain; charset=utf-8', status);
    }
  }

  /** 304 Not Modified: no body and no `Content-Length`; set `ETag` and `Cache-Control` before. */
  sendNotModified(): void {
    this.claim();
    this.response.writeHead(304);
    this.response.end();
  }

  /**
   * 405, with the allowed methods (e.g. `"GET,POST"`) in the `Allow` header, as Orthanc does.
   * A route that declares its `methods` when registered gets this from the host, with the JSON
   * error body: only a route that declares none needs it.
   */
  sendMethodNotAllowed(allowedMethods: string): void {
    this.claim();
    this.response.writeHead(405, { allow: allowedMethods, 'content-length': 0 });
    this.response.end();
  }

  /** 401 with a Basic challenge. */
  sendUnauthorized(realm = 'Orthanc Secure Area'): void {
    this.claim();
    this.response.writeHead(401, { 'www-authenticate': `Basic realm="${realm}"`, 'content-length': 0 });
    this.response.end();
  }

  redirect(url: string): void {
    this.claim();
    this.response.writeHead(307, { location: url, 'content-length': 0 });
    this.response.end();
  }

  /**
   * Starts a streamed (chunked) answer, as the Python plugin's `StartStreamAnswer`; then
   * `sendStreamChunk` for each part and `endStream`. Headers set before are sent with it.
   */
  startStreamAnswer(mimeType: string, status = 200): void {
    this.claim();
    this.streaming = true;
    this.response.writeHead(status, { 'content-type': mimeType });
  }

  /**
   * Sends one chunk and resolves when the client can take more (back-pressure: a producer that
   * awaits each call holds at most the socket's buffer). Rejects with `ORC_ERR_CLIENT_GONE` once
   * the client went away (then `signal` is aborted too), instead of waiting for a `drain` that
   * never comes.
   */
  async sendStreamChunk(chunk: string | Uint8Array): Promise<void> {
    if (!this.streaming) throw new BindingError('ORC_ERR_ALREADY_ANSWERED', 'startStreamAnswer() must come first');
    this.throwIfGone();
    if (this.response.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.response.off('drain', done);
        this.gone.signal.removeEventListener('abort', done);
        resolve();
      };
      this.response.on('drain', done);
      this.gone.signal.addEventListener('abort', done);
    });
    this.throwIfGone();
  }

  /** Ends a streamed answer; resolves when it has been handed to the system entirely. */
  async endStream(): Promise<void> {
    if (!this.streaming) throw new BindingError('ORC_ERR_ALREADY_ANSWERED', 'startStreamAnswer() must come first');
    this.throwIfGone();
    await new Promise<void>((resolve) => this.response.end(resolve));
    this.throwIfGone();
  }

  private throwIfGone(): void {
    if (this.gone.signal.aborted) throw this.gone.signal.reason as BindingError;
  }
}
