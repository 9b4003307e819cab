import { createRequire } from 'node:module';

/**
 * Packages that orthanc-recipes uses but does not install (optional peer dependencies, so that a
 * production install holds only what runs): what needs each one, and the range it was tested with.
 * The README's install section lists the same; test/package.test.ts checks that the two agree with
 * package.json's peerDependencies.
 */
export const optionalPackages: Readonly<Record<string, string>> = {
  sharp: 'the thumbnails recipe',
  dcmjs: "the dicom-dump recipe and the test kit's generateStudy",
  tsx: 'recipes and scheduler tasks written in TypeScript',
  exceljs: 'spreadsheet exports',
  'dcmjs-dimse': 'DICOM networking from recipes',
};

/** Whether an import or require failed because the package itself is not installed. */
export function isMissingPackage(error: unknown, name: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // Node names the package in both forms: "Cannot find package 'sharp' imported from ..." and
  // "Cannot find module 'sharp'"; a module missing *inside* the package names a path instead.
  return typeof message === 'string' && (message.includes(`'${name}'`) || message.includes(`'${name}/`));
}

/** The message for an optional package that is not installed: what needs it and how to add it. */
export function missingPackageMessage(name: string): string {
  const neededBy = optionalPackages[name] ?? 'this feature';
  return (
    `the optional package ${name}, needed by ${neededBy}, is not installed: ` +
    `install it beside orthanc-recipes ("npm install ${name}"; see the README's "Install" section)`
  );
}

/** An Error saying that an optional package is missing, or the original error for any other failure. */
export function explainImportFailure(error: unknown, name: string): unknown {
  return isMissingPackage(error, name)
    ? Object.assign(new Error(missingPackageMessage(name), { cause: error }), { code: 'ORC_ERR_MISSING_PACKAGE' })
    : error;
}

/** Imports an optional package (ES module import), with a clear error when it is not installed. */
export async function importOptional<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw explainImportFailure(error, name);
  }
}

/**
 * Loads an optional CommonJS package synchronously, from `from` (the caller's import.meta.url),
 * with a clear error when it is not installed: for code that cannot become asynchronous.
 */
export function requireOptional<T>(name: string, from: string): T {
  try {
    return createRequire(from)(name) as T;
  } catch (error) {
    throw explainImportFailure(error, name);
  }
}
