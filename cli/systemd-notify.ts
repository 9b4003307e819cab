import { execFile } from 'node:child_process';
import { describe, type Logger } from '../shared/binding/index.js';

/**
 * Tells systemd that the service is ready (a `Type=notify` unit: READY=1 once the host listens),
 * when systemd asked for it by setting NOTIFY_SOCKET; does nothing otherwise.
 *
 * Node has no unix datagram sockets, so the message is sent by systemd's own `systemd-notify`,
 * a child process: the unit needs `NotifyAccess=all` (deploy/orthanc-recipes.service sets it), and
 * `--pid` names this process as the service's main one. systemd-notify waits until systemd has
 * read the message (sd_notify_barrier, systemd 246 and later), so it is not lost when the child
 * exits. Never throws: a failure is logged as a warning (systemd then times the start out).
 */
export function notifySystemdReady(log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('systemd-notify', ['--ready', `--pid=${process.pid}`], { env, timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error) log.warning(`could not tell systemd that the host is ready (systemd-notify --ready): ${stderr.trim() || describe(error)}`);
      resolve();
    });
  });
}
