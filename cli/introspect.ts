import { OrthancConnection } from '../shared/binding/index.js';
import { ConfigError, hostVersion, loadConfig } from '../host/index.js';
import { maskSecrets } from '../shared/mask-secrets.js';
import { loadIntrospection, type Introspection, type OrthancDescription } from '../host/registry.js';

/**
 * `orthanc-recipes introspect`: the binding's API, as `GET /recipes/introspection` gives it, with
 * no Orthanc needed. With a configuration file, also the enabled recipes with their options
 * (secrets masked), and Orthanc when `Orthanc.Url` answers; an embedded Orthanc is not started.
 */
export async function introspect(format: string, configFile: string | undefined): Promise<number> {
  if (format !== 'json' && format !== 'markdown') {
    process.stderr.write(`unknown format "${format}"; expected "json" or "markdown"\n`);
    return 2;
  }
  const { describeApi, describeRecipes, toMarkdown } = await loadIntrospection();
  const description: Introspection = describeApi();
  if (configFile !== undefined) {
    let loaded;
    try {
      loaded = await loadConfig(configFile);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    const { Orthanc: orthancConfig } = loaded.config;
    const recipes = loaded.recipes.map(({ recipe, options }) => ({
      meta: recipe.meta,
      schema: recipe.schema,
      options: maskSecrets(options, { values: [orthancConfig.Password] }),
      status: 'configured',
    }));
    description.Live = {
      Host: { Version: hostVersion },
      Orthanc: await describeConfiguredOrthanc(orthancConfig),
      Recipes: describeRecipes(recipes),
    };
  }
  process.stdout.write(format === 'markdown' ? toMarkdown(description) : `${JSON.stringify(description, null, 2)}\n`);
  return 0;
}

async function describeConfiguredOrthanc(config: { Url?: string; Username?: string; Password?: string }): Promise<OrthancDescription> {
  if (!config.Url) return { Answers: false, Error: 'the configuration starts an embedded Orthanc, which introspect does not start' };
  const { describeOrthanc } = await loadIntrospection();
  const connection = new OrthancConnection({ url: config.Url, username: config.Username, password: config.Password, timeoutSeconds: 5 });
  try {
    return await describeOrthanc({
      getSystem: () => connection.callJson('GET', '/system'),
      restApiGetJson: (uri) => connection.callJson('GET', uri),
    });
  } finally {
    await connection.close();
  }
}
