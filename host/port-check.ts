import { createServer } from 'node:net';

/**
 * Fails at once when the front's port cannot be bound (EADDRINUSE, EACCES, an address not on this
 * machine), before the host waits for Orthanc or sets recipes up: the front itself listens only
 * once everything is ready, which may be long after. Port 0 (any free port) is not checked.
 */
export function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}
