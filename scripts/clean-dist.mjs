// Removes dist/ before the build, so that a file deleted or renamed in the sources never lingers
// in dist/ (where `npm test` would run it and `npm pack` would ship it).
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

rmSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true, force: true });
