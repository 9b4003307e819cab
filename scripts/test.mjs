// `npm test`: the fast tier first, on its own (`*.unit.test.js`: no Orthanc, milliseconds a case),
// then the integration tier (every other test file: a real Orthanc of its own on free ports, three
// files at a time). `npm test -- --fast` runs the fast tier only; `npm test -- FILE...` runs the
// given compiled test files. Exit code: the first tier that failed, else 0.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const testFiles = (folder) =>
  existsSync(join(root, folder))
    ? readdirSync(join(root, folder))
        .filter((name) => name.endsWith('.test.js'))
        .sort()
        .map((name) => join(folder, name))
    : [];
const recipes = existsSync(join(root, 'dist/recipes')) ? readdirSync(join(root, 'dist/recipes')).sort() : [];
const all = [...testFiles('dist/test'), ...recipes.flatMap((id) => testFiles(`dist/recipes/${id}/test`))];

const args = process.argv.slice(2);
const only = args.filter((arg) => !arg.startsWith('--'));
const fastOnly = args.includes('--fast');
const chosen = only.length > 0 ? only : all;
const fast = chosen.filter((file) => file.endsWith('.unit.test.js'));
const integration = fastOnly ? [] : chosen.filter((file) => !file.endsWith('.unit.test.js'));

function tier(name, files, concurrency) {
  if (files.length === 0) return 0;
  console.log(`== ${name}: ${files.length} test file${files.length === 1 ? '' : 's'}`);
  const { status, signal } = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
    cwd: root,
    stdio: 'inherit',
  });
  return signal ? 1 : (status ?? 1);
}

const fastStatus = tier('fast tier (no Orthanc)', fast, 2);
const integrationStatus = tier('integration tier (a real Orthanc per file)', integration, 3);
process.exit(fastStatus || integrationStatus);
