/**
 * Node module-resolution hooks (registered with `module.register`, run in Node's loader thread):
 * `orthanc-recipes` and its subpaths resolve, from whatever folder imports them, to the running
 * host's own package. A recipe kept in a folder of its own (`orthanc-recipes new --dir ~/x`) has
 * no `node_modules`, and one copy of the API (`defineRecipe`, the binding's error classes) must
 * serve the host and every recipe. Resolving from the package's own `package.json` uses Node's
 * self-reference through its `exports`, so only exported subpaths resolve, as for any package.
 */
const ownName = 'orthanc-recipes';
let packageJsonUrl: string | undefined;

export function initialize(data: { packageJsonUrl: string }): void {
  packageJsonUrl = data.packageJsonUrl;
}

interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
type NextResolve = (specifier: string, context?: Partial<ResolveContext>) => Promise<{ url: string; format?: string | null }>;

export async function resolve(
  specifier: string,
  context: ResolveContext,
  nextResolve: NextResolve,
): Promise<{ url: string; format?: string | null }> {
  if (packageJsonUrl && (specifier === ownName || specifier.startsWith(`${ownName}/`))) {
    return nextResolve(specifier, { ...context, parentURL: packageJsonUrl });
  }
  return nextResolve(specifier, context);
}
