import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/** The page's files, shipped in the package beside the compiled code (see package.json `files`). */
const staticDirectory = new URL('../../../recipes/dashboard/static/', import.meta.url).pathname;

const contentTypes: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/**
 * No inline script or style, nothing from elsewhere: the page and its calls stay on the host,
 * whose front asks for Orthanc's credentials when Orthanc does.
 */
const securityHeaders: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export default defineRecipe<Options>({
  meta: {
    id: 'dashboard',
    title: 'Dashboard',
    description:
      "The host's status page in the browser: Orthanc, the change feed, each recipe, routing failures to retry, tasks to run now, the latest instances.",
    category: 'Inspection',
    routes: ['GET,HEAD /recipes/ui', 'GET,HEAD /recipes/ui/', 'GET,HEAD /recipes/ui/{file}', 'GET,HEAD /recipes/ui/config.json'],
    events: [],
    destructive: false,
  },
  schema,
  async setup({ orthanc }, options) {
    // Read once: the files are small and never change while the host runs.
    const files = new Map<string, Buffer>();
    for (const name of Object.keys(contentTypes)) files.set(name, await readFile(join(staticDirectory, name)));
    const config = Buffer.from(JSON.stringify({ RefreshSeconds: options.RefreshSeconds, RecentInstances: options.RecentInstances }));

    // HEAD is served as GET is (the same headers, no body): Allow says GET,HEAD.
    const methods = ['GET', 'HEAD'];
    orthanc.registerRestCallback('/recipes/ui', (output) => output.redirect('ui/'), { hostAction: true, methods });
    orthanc.registerRestCallback(
      '/recipes/ui/(.*)',
      (output, _uri, request) => {
        const name = request.groups[0] || 'index.html';
        const body = name === 'config.json' ? config : files.get(name);
        if (!body) throw new RecipeHttpError(404, 'not-found', `no such file: ${name.slice(0, 100)}`);
        for (const [header, value] of Object.entries(securityHeaders)) output.setHttpHeader(header, value);
        output.answerBuffer(body, name === 'config.json' ? 'application/json; charset=utf-8' : contentTypes[name]!);
      },
      { hostAction: true, methods },
    );
  },
});
