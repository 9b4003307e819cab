import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, describe } from '../shared/binding/index.js';
import { ConfigError, Host, bundledRecipes, effectiveConfig, hostVersion, loadConfig } from '../host/index.js';
import { checkRecipeFolder } from './check-recipe.js';
import { NewRecipeError, newRecipe } from './new-recipe.js';
import { notifySystemdReady } from './systemd-notify.js';
import { checkOnline } from './validate-online.js';

const usage = `Usage: orthanc-recipes <command> [options]

Commands:
  run [--config FILE]       Start the host (default config: ./orthanc-recipes.json)
  list                      List the bundled recipes
  validate [--config FILE] [--online]
                            Check a configuration file (default ./orthanc-recipes.json; exit
                            code 2 when it is invalid) and print what would run: the enabled
                            recipes and every effective option, defaults filled in, secrets
                            masked. --online also checks against Orthanc: its credentials, and
                            the destinations the recipes name
  new <id> [--dir PATH]     Start a recipe from the template in PATH/<id> (default ./recipes/<id>)
  check <folder>            Check a recipe folder before contributing it; exit code 2 with what to fix
  bridge [--config FILE] [--output FILE]
                            Print (or write, mode 0600) the Lua script for Orthanc's LuaScripts
                            that the enabled recipes' hooks need: received-instance filters,
                            deletions (the embedded Orthanc gets it by itself)
  introspect [--format json|markdown] [--config FILE]
                            Describe the binding's API (no Orthanc needed); with --config, also
                            the enabled recipes (secrets masked) and Orthanc if it answers

Options:
  -c, --config FILE         The configuration file
  -f, --format FORMAT       introspect's output: json (default) or markdown
  -o, --output FILE         bridge: write the script to FILE instead of printing it
      --online              validate: check against the running Orthanc too

Environment:
  ORTHANC_RECIPES__Section__Key=value overrides a key of the file (JSON values for keys that
  are not strings), e.g. ORTHANC_RECIPES__Orthanc__Password, ORTHANC_RECIPES__HttpServer__Port=8043,
  ORTHANC_RECIPES__Recipes__autorouting__Enabled=false
  -h, --help                Show this help
  -v, --version             Show the version
`;

/**
 * `orthanc-recipes list | head`: the reader goes away, and the next write fails with EPIPE. That
 * ends the output, not with a crash: the process exits quietly, as `ls | head` does.
 */
function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
}

/** Runs the CLI; resolves to the exit code (`run` resolves only when the host has stopped). */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        dir: { type: 'string', short: 'd' },
        format: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o' },
        online: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    process.stderr.write(`${describe(error)}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) return print(`${hostVersion}\n`);
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') return print(usage);
  const takesOne = command === 'new' || command === 'check';
  if (rest.length > (takesOne ? 1 : 0)) return fail(`unexpected argument "${rest[takesOne ? 1 : 0]}"\n\n${usage}`);

  switch (command) {
    case 'list':
      return list();
    case 'validate':
      return validate(values.config ?? 'orthanc-recipes.json', values.online === true);
    case 'run':
      return run(values.config ?? 'orthanc-recipes.json');
    case 'new':
      if (!rest[0]) return fail(`new needs an id, e.g. "orthanc-recipes new my-recipe"\n\n${usage}`);
      return create(rest[0], values.dir ?? 'recipes');
    case 'check':
      if (!rest[0]) return fail(`check needs a recipe folder\n\n${usage}`);
      return check(rest[0]);
    case 'bridge':
      return (await import('./bridge.js')).printBridgeScript(values.config ?? 'orthanc-recipes.json', values.output);
    case 'introspect':
      // Loaded only here: the API description is not needed to run the host.
      return (await import('./introspect.js')).introspect(values.format ?? 'json', values.config);
    default:
      return fail(`unknown command "${command}"\n\n${usage}`);
  }
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

function fail(text: string): number {
  process.stderr.write(`${text}\n`);
  return 2;
}

async function list(): Promise<number> {
  for (const id of Object.keys(bundledRecipes).sort()) {
    const { meta } = await bundledRecipes[id]!();
    process.stdout.write(`${meta.id.padEnd(20)} ${meta.title}: ${meta.description}${meta.destructive ? ' (destructive)' : ''}\n`);
  }
  return 0;
}

async function validate(file: string, online: boolean): Promise<number> {
  try {
    const loaded = await loadConfig(file);
    if (online) {
      const { issues, note } = await checkOnline(loaded);
      if (issues.length > 0) return reportConfigError(new ConfigError(issues));
      process.stdout.write(`${file}: online: ${note}\n`);
    }
    process.stdout.write(`${file}: valid; enabled recipes: ${loaded.recipes.map((r) => r.id).join(', ') || 'none'}\n`);
    process.stdout.write(`The effective configuration (defaults filled in, secrets masked, disabled recipes left out):\n`);
    process.stdout.write(`${JSON.stringify(effectiveConfig(loaded), null, 2)}\n`);
    return 0;
  } catch (error) {
    return reportConfigError(error);
  }
}

async function create(id: string, directory: string): Promise<number> {
  try {
    const created = await newRecipe(id, directory, Object.keys(bundledRecipes));
    const next = created.bundled
      ? `Next: npm run build && node --test dist/recipes/${id}/test/*.test.js`
      : `Next: enable it with "Recipes": {"${id}": {"Enabled": true, "Module": "${created.folder}"}},\n` +
        `and run its test with: node --import tsx --test ${created.folder}/test/*.test.ts\n` +
        `(TypeScript and the test kit's generateStudy need the optional packages tsx and dcmjs: npm install --save-dev tsx dcmjs)`;
    process.stdout.write(`Created ${created.folder}:\n${created.files.map((file) => `  ${file}\n`).join('')}${next}\n`);
    return 0;
  } catch (error) {
    if (error instanceof NewRecipeError) return fail(`cannot create "${id}": ${error.message}`);
    throw error;
  }
}

async function check(folder: string): Promise<number> {
  const problems = await checkRecipeFolder(resolve(folder));
  if (problems.length === 0) return print(`${folder}: ready for the catalogue\n`);
  return fail(
    `${folder}: ${problems.length} thing${problems.length === 1 ? '' : 's'} to fix:\n${problems.map((p) => `- ${p}`).join('\n')}`,
  );
}

function reportConfigError(error: unknown): number {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  return 2;
}

async function run(file: string): Promise<number> {
  let loaded;
  try {
    loaded = await loadConfig(file);
  } catch (error) {
    return reportConfigError(error);
  }
  // Every line is written in the configured format (with "LogFormat": "json", each one is JSON):
  // the host's to stdout, the CLI's own fatal ones to stderr.
  const { LogLevel: level, LogFormat: format } = loaded.config;
  const log = createLogger('host', { level, format });
  const fatal = createLogger('host', { level, format, write: (line) => void process.stderr.write(line) });
  process.on('unhandledRejection', (reason) => fatal.error(`unhandled rejection: ${describe(reason)}`));
  // The handlers come first: a signal during the start (the embedded Orthanc may be starting)
  // aborts it, and whatever was started is stopped before the process exits.
  const starting = new AbortController();
  let host: Host | undefined;
  let stopped: ((code: number) => void) | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      fatal.error(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    if (!host) {
      log.info(`${signal} received during the start, stopping`);
      starting.abort(new Error(`${signal} received during the start`));
      return;
    }
    host.log.info(`${signal} received, stopping`);
    host.close().then(
      () => stopped?.(0),
      (error: unknown) => {
        fatal.error(`stop failed: ${describe(error)}`);
        stopped?.(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    host = await Host.start(loaded, { log, signal: starting.signal });
  } catch (error) {
    if (starting.signal.aborted) {
      log.info('stopped');
      return 0;
    }
    if (error instanceof ConfigError) return reportConfigError(error);
    fatal.error(`cannot start: ${describe(error)}`);
    return 1;
  }
  void notifySystemdReady(host.log);
  return new Promise<number>((resolve) => {
    stopped = resolve;
  });
}
