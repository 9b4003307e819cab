import {
  ChangeFeed,
  OrthancConnection,
  OrthancHttpError,
  RestRouter,
  createLogger,
  createScopedBinding,
  describe,
} from '../shared/binding/index.js';
import type { ConfigIssue, LoadedConfig } from '../host/index.js';
import { escapePointer } from '../shared/validate.js';

/**
 * `validate --online`: what only the running Orthanc can tell. It answers, it accepts the host's
 * credentials, and each enabled recipe's `checkOnline` passes (autorouting: every modality, peer
 * and DICOMweb server its rules name is known to Orthanc). Read-only. Returns the issues, and a
 * note on what was checked.
 */
export async function checkOnline(loaded: LoadedConfig): Promise<{ issues: ConfigIssue[]; note: string }> {
  const { file, config } = loaded;
  if (!config.Orthanc.Url) return { issues: [], note: 'no Orthanc.Url: the embedded Orthanc is started by "run"; nothing to check online' };
  const connection = new OrthancConnection({
    url: config.Orthanc.Url,
    username: config.Orthanc.Username,
    password: config.Orthanc.Password,
    timeoutSeconds: Math.min(config.Orthanc.TimeoutSeconds, 15),
  });
  try {
    let version: string;
    try {
      version = (await connection.callJson<{ Version: string }>('GET', '/system')).Version;
    } catch (error) {
      const refused = error instanceof OrthancHttpError && (error.httpStatus === 401 || error.httpStatus === 403);
      const pointer = refused
        ? config.Orthanc.PasswordFile !== undefined
          ? '/Orthanc/PasswordFile'
          : config.Orthanc.Username === undefined
            ? '/Orthanc/Username'
            : '/Orthanc/Password'
        : '/Orthanc/Url';
      const message = refused
        ? `Orthanc refuses the host's credentials (HTTP ${error.httpStatus})${config.Orthanc.Username === undefined ? ': give "Username" and "Password"' : ''}`
        : `Orthanc does not answer at ${config.Orthanc.Url}: ${describe(error)}`;
      return { issues: [{ file, pointer, message }], note: '' };
    }
    const log = createLogger('validate', { level: 'error', write: () => undefined });
    const router = new RestRouter();
    const feed = new ChangeFeed({ connection, log, cursor: { load: () => undefined, save: () => undefined } });
    const issues: ConfigIssue[] = [];
    const checked: string[] = [];
    for (const { id, recipe, options } of loaded.recipes) {
      if (!recipe.checkOnline) continue;
      const scoped = createScopedBinding({ connection, feed, router, log, owner: id });
      try {
        const problems = await recipe.checkOnline(options, { orthanc: scoped.binding });
        issues.push(
          ...problems.map((problem) => ({
            file,
            recipe: id,
            pointer: `/Recipes/${escapePointer(id)}${problem.pointer}`,
            message: problem.message,
          })),
        );
        checked.push(id);
      } catch (error) {
        issues.push({
          file,
          recipe: id,
          pointer: `/Recipes/${escapePointer(id)}`,
          message: `cannot be checked against Orthanc: ${describe(error)}`,
        });
      } finally {
        scoped.dispose();
      }
    }
    return {
      issues,
      note: `Orthanc ${version} at ${config.Orthanc.Url} accepts the host's credentials${checked.length ? `; checked against it: ${checked.join(', ')}` : ''}`,
    };
  } finally {
    await connection.close();
  }
}
