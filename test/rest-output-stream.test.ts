import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { RestOutput, isClientGone } from '../shared/binding/index.js';

/** The binding's streamed answer on a bare HTTP server (no Orthanc involved in these properties). */
describe('RestOutput: streamed answers', () => {
  let server: Server;
  let url: string;
  let onRequest: (output: RestOutput) => Promise<void>;

  before(async () => {
    server = createServer((_request, response) => void onRequest(new RestOutput(response)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => server.close());

  it('sends chunks in order, with the headers set before, and ends', async () => {
    const ended = new Promise<void>((resolve) => {
      onRequest = async (output) => {
        output.setHttpHeader('x-before', 'yes');
        output.startStreamAnswer('text/plain');
        for (let i = 0; i < 3; i += 1) await output.sendStreamChunk(`part ${i}\n`);
        await output.endStream();
        assert.equal(output.signal.aborted, false);
        resolve();
      };
    });
    const answer = await request(url);
    assert.equal(answer.headers['x-before'], 'yes');
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.equal(await answer.body.text(), 'part 0\npart 1\npart 2\n');
    await ended;
  });

  it('rejects a waiting chunk with ORC_ERR_CLIENT_GONE and aborts the signal when the client goes away', async () => {
    const outcome = new Promise<{ error: unknown; aborted: boolean; chunks: number }>((resolve) => {
      onRequest = async (output) => {
        output.startStreamAnswer('application/octet-stream');
        const chunk = Buffer.alloc(256 * 1024);
        let chunks = 0;
        try {
          // Without back-pressure this loop would never stop: the client reads nothing.
          for (;;) {
            await output.sendStreamChunk(chunk);
            chunks += 1;
          }
        } catch (error) {
          resolve({ error, aborted: output.signal.aborted, chunks });
        }
      };
    });
    const { port } = new URL(url);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    socket.pause();
    // The server is now held by back-pressure; the client leaves.
    setImmediate(() => socket.destroy());
    const { error, aborted, chunks } = await outcome;
    assert.ok(isClientGone(error), String(error));
    assert.equal(aborted, true);
    assert.ok(chunks < 200, `${chunks} chunks were accepted before the client went away`);
  });
});
