import { existsSync } from 'node:fs';
// A host in a process of its own, measured from inside: run by `startMeasuredHost` (fork), it
// starts the host of a compiled tree (this one by default, or another one's `dist/`, to compare
// before and after a change), watches its event loop with `perf_hooks.monitorEventLoopDelay`,
// and answers the parent's questions over IPC. Its RSS is read by the parent from /proc.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { memoryOf, resetPeak } from './memory.js';

/** What the host's process measured since the last `reset`. */
export interface HostMeasure {
  /** Worst and 99th-percentile event-loop delay, in milliseconds (10 ms resolution sampling). */
  maxDelayMs: number;
  p99DelayMs: number;
  /** Resident memory now and at its peak (VmHWM since the reset), in bytes. */
  rssBytes: number;
  peakRssBytes: number;
}

export interface MeasuredHost {
  url: string;
  pid: number;
  /** Forgets what was measured so far (event-loop histogram, peak RSS). */
  reset(): Promise<void>;
  measure(): Promise<HostMeasure>;
  /** Lines the host logged (its log goes to the parent's memory, not to the console). */
  lines: string[];
  stop(): Promise<void>;
}

type Message =
  | { type: 'listening'; url: string }
  | { type: 'delay'; maxMs: number; p99Ms: number }
  | { type: 'log'; line: string }
  | { type: 'failed'; message: string };

/**
 * Starts a host with `config` (as in orthanc-recipes.json; `StateDirectory` and a free port are
 * added) in a child process. `distRoot`: the `dist/` folder whose host runs (default: this tree's).
 */
export async function startMeasuredHost(
  config: Record<string, unknown>,
  distRoot?: string,
  execArgv: string[] = [],
): Promise<MeasuredHost> {
  const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-measured-'));
  const full = {
    StateDirectory: join(directory, 'state'),
    ...config,
    HttpServer: { Port: 0, ...(config.HttpServer as object | undefined) },
  };
  const child: ChildProcess = fork(
    fileURLToPath(import.meta.url),
    [distRoot ?? defaultDistRoot, JSON.stringify(full), join(directory, 'orthanc-recipes.json')],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, ...execArgv],
    },
  );
  const lines: string[] = [];
  const waiting: ((message: Message) => boolean)[] = [];
  child.on('message', (message: Message) => {
    if (message.type === 'log') return void lines.push(message.line);
    const index = waiting.findIndex((accept) => accept(message));
    if (index >= 0) waiting.splice(index, 1);
  });
  const next = <T extends Message['type']>(type: T) =>
    new Promise<Extract<Message, { type: T }>>((resolve, reject) => {
      const onExit = () => reject(new Error(`the measured host exited:\n${lines.slice(-20).join('\n')}`));
      child.once('exit', onExit);
      waiting.push((message) => {
        if (message.type === 'failed') {
          child.off('exit', onExit);
          reject(new Error(`the measured host failed to start: ${message.message}`));
          return true;
        }
        if (message.type !== type) return false;
        child.off('exit', onExit);
        resolve(message as Extract<Message, { type: T }>);
        return true;
      });
    });
  const { url } = await next('listening');
  const pid = child.pid!;
  return {
    url,
    pid,
    lines,
    async reset() {
      child.send({ type: 'reset' });
      await next('delay');
      resetPeak(pid);
    },
    async measure() {
      child.send({ type: 'measure' });
      const delay = await next('delay');
      const memory = memoryOf(pid);
      return { maxDelayMs: delay.maxMs, p99DelayMs: delay.p99Ms, rssBytes: memory.rss, peakRssBytes: memory.peak };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

const defaultDistRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The child's side: start the host, then answer `reset`, `measure` and `stop`. */
async function runChild(distRoot: string, configText: string, configPath: string): Promise<void> {
  const send = (message: Message) => process.send?.(message);
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  // host/ since the host left shared/; a tree built before that (a benchmark's "before") has shared/host/.
  const hostIndex = existsSync(join(distRoot, 'host/index.js')) ? 'host/index.js' : 'shared/host/index.js';
  const hostModule = (await import(pathToFileURL(join(distRoot, hostIndex)).href)) as typeof import('../../host/index.js');
  const bindingModule = (await import(
    pathToFileURL(join(distRoot, 'shared/binding/index.js')).href
  )) as typeof import('../../shared/binding/index.js');
  const logger = bindingModule.createLogger('host', {
    level: 'info',
    write: (line: string) => send({ type: 'log', line: line.trimEnd() }),
  });
  let host: Awaited<ReturnType<typeof hostModule.Host.start>>;
  try {
    const loaded = await hostModule.validateConfig(JSON.parse(configText), configPath, hostModule.bundledRecipes);
    host = await hostModule.Host.start(loaded, { log: logger });
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
  const report = () => send({ type: 'delay', maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6 });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'reset') {
      histogram.reset();
      report();
    } else if (message.type === 'measure') {
      report();
    } else if (message.type === 'stop') {
      void stop();
    }
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= host.close().finally(() => process.exit(0)));
  // The parent went away (a test that failed, say): the host goes too.
  process.on('disconnect', () => void stop());
  send({ type: 'listening', url: host.url });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  await runChild(process.argv[2]!, process.argv[3]!, process.argv[4]!);
}
