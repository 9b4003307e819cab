import { parseArgs } from 'node:util';
import { describe } from '../binding/index.js';
import { ConfigError, Host, bundledRecipes, hostVersion, loadConfig } from '../host/index.js';

const usage = `Usage: orthanc-recipes <command> [options]

Commands:
  run [--config FILE]       Start the host (default config: ./orthanc-recipes.json)
  list                      List the bundled recipes
  validate --config FILE    Check a configuration file; exit code 2 when it is invalid

Options:
  -c, --config FILE         The configuration file
  -h, --help                Show this help
  -v, --version             Show the version
`;

/** Runs the CLI; resolves to the exit code (`run` resolves only when the host has stopped). */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
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
  if (rest.length > 0) return fail(`unexpected argument "${rest[0]}"\n\n${usage}`);

  switch (command) {
    case 'list':
      return list();
    case 'validate':
      if (!values.config) return fail(`validate needs --config FILE\n\n${usage}`);
      return validate(values.config);
    case 'run':
      return run(values.config ?? 'orthanc-recipes.json');
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

async function validate(file: string): Promise<number> {
  try {
    const loaded = await loadConfig(file);
    process.stdout.write(`${file}: valid; enabled recipes: ${loaded.recipes.map((r) => r.id).join(', ') || 'none'}\n`);
    return 0;
  } catch (error) {
    return reportConfigError(error);
  }
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
  process.on('unhandledRejection', (reason) => process.stderr.write(`E unhandled rejection: ${describe(reason)}\n`));
  let host: Host;
  try {
    host = await Host.start(loaded);
  } catch (error) {
    if (error instanceof ConfigError) return reportConfigError(error);
    process.stderr.write(`E cannot start: ${describe(error)}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`E ${signal} again: exiting at once\n`);
        process.exit(1);
      }
      stopping = true;
      host.log.info(`${signal} received, stopping`);
      host.close().then(
        () => resolve(0),
        (error: unknown) => {
          process.stderr.write(`E stop failed: ${describe(error)}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
