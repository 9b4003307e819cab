import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../shared/binding/index.js';
import { Host, validateConfig, bundledRecipes } from '../../host/index.js';
import type { AnyRecipe } from '../../shared/recipe.js';

export const repositoryRoot = new URL('../../../', import.meta.url).pathname;
export const cliPath = join(repositoryRoot, 'bin', 'orthanc-recipes.js');

/** Output lines of a host, with a way to wait for one. */
export class LineLog {
  readonly lines: string[] = [];
  private waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  push(line: string): void {
    this.lines.push(line);
    for (const waiter of [...this.waiters]) {
      if (waiter.test(line)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /** Resolves with the first line (already seen or to come) that matches. */
  waitFor(pattern: RegExp | ((line: string) => boolean), timeoutMs = 20_000, from = 0): Promise<string> {
    const test = typeof pattern === 'function' ? pattern : (line: string) => pattern.test(line);
    const seen = this.lines.slice(from).find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`no line matched ${String(pattern)} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-10).join('\n')}`)),
        timeoutMs,
      );
      this.waiters.push({ test, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  /**
   * Resolves with the first message of one logger (already seen or to come) that passes `test`.
   * Read a host's line this way after any other signal (an HTTP answer, Orthanc's state, a file at a
   * destination): the line travels through a pipe and may arrive after it.
   */
  async waitForMessage(logger: string, test: (message: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const marker = ` ${logger}] `;
    const message = (line: string) => line.slice(line.indexOf(marker) + marker.length);
    const line = await this.waitFor((candidate) => candidate.includes(marker) && test(message(candidate)), timeoutMs);
    return message(line);
  }

  /** The messages logged by one logger (`hello] message` → `message`), in order. */
  messages(logger: string): string[] {
    const marker = ` ${logger}] `;
    return this.lines.filter((line) => line.includes(marker)).map((line) => line.slice(line.indexOf(marker) + marker.length));
  }
}

/** A host running the real CLI in a child process, as an administrator runs it. */
export interface HostProcess {
  url: string;
  log: LineLog;
  child: ChildProcess;
  configFile: string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Writes `config` to a file in `directory` (StateDirectory there too, unless set) and runs the CLI
 * on it, with `env` added to this process's environment (e.g. `ORTHANC_RECIPES__...` overrides);
 * `cli`: another checkout's `bin/orthanc-recipes.js`, for a benchmark's before/after.
 */
export async function startHostProcess(
  config: Record<string, unknown>,
  directory?: string,
  env: Record<string, string> = {},
  cli = cliPath,
): Promise<HostProcess> {
  const folder = directory ?? (await mkdtemp(join(tmpdir(), 'orthanc-recipes-host-')));
  const configFile = join(folder, 'orthanc-recipes.json');
  const full = { StateDirectory: './state', ...config, HttpServer: { Port: 0, ...(config.HttpServer as object | undefined) } };
  await writeFile(configFile, JSON.stringify(full, null, 2));
  const child = spawn(process.execPath, [cli, 'run', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const log = new LineLog();
  const split = (stream: NodeJS.ReadableStream | null) => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) log.push(line);
    });
  };
  split(child.stdout);
  split(child.stderr);
  const exited = once(child, 'exit');
  const listening = await Promise.race([
    log.waitFor(/listening on (http:\/\/\S+),/, 60_000),
    exited.then(() => {
      throw new Error(`the host exited before listening:\n${log.lines.join('\n')}`);
    }),
  ]);
  const url = /listening on (http:\/\/\S+),/.exec(listening)![1]!;
  return {
    url,
    log,
    child,
    configFile,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** A host in this process, with extra recipes beside the bundled ones and a captured log. */
export async function startHostInProcess(
  config: Record<string, unknown>,
  extraRecipes: AnyRecipe[] = [],
): Promise<{ host: Host; url: string; log: LineLog; logger: Logger; directory: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-host-'));
  const registry = { ...bundledRecipes, ...Object.fromEntries(extraRecipes.map((r) => [r.meta.id, async () => r])) };
  const full = {
    StateDirectory: join(directory, 'state'),
    ...config,
    HttpServer: { Port: 0, ...(config.HttpServer as object | undefined) },
  };
  const loaded = await validateConfig(full, join(directory, 'orthanc-recipes.json'), registry);
  const log = new LineLog();
  const logger = createLogger('host', { level: 'debug', write: (line) => log.push(line.trimEnd()) });
  const host = await Host.start(loaded, { log: logger });
  return { host, url: host.url, log, logger, directory };
}
