import { Minimatch } from 'minimatch';
import type { IncomingHttpRequest } from '../../shared/binding/index.js';
import type { Options } from './options.generated.js';

/** A rule, compiled once. */
export interface CompiledRule {
  methods: ReadonlySet<string>;
  path: Minimatch;
  users: ReadonlySet<string>;
}

/**
 * Paths are where minimatch's semantics are right: `*` never crosses a `/`, so `/studies/*`
 * covers a study's own URI and not `/studies/{id}/archive`, which `/studies/**` covers. `dot`
 * lets `*` match a segment starting with a dot; `nocase` stays off: Orthanc's routes are
 * case-sensitive.
 */
export function compileRules(rules: Options['Rules']): CompiledRule[] {
  return rules.map((rule) => ({
    methods: new Set(rule.Methods.map((method) => method.toUpperCase())),
    path: new Minimatch(rule.Path, { dot: true, nonegate: true, nocomment: true }),
    users: new Set(rule.Users),
  }));
}

/**
 * The first rule covering the request decides: true when its users include the user Orthanc
 * accepted (or `*` and any such user); undefined when no rule covers the request.
 */
export function decideByRules(
  rules: readonly CompiledRule[],
  uri: string,
  request: Pick<IncomingHttpRequest, 'method' | 'username'>,
): boolean | undefined {
  const method = request.method.toUpperCase();
  for (const rule of rules) {
    if (rule.methods.size > 0 && !rule.methods.has(method)) continue;
    if (!rule.path.match(uri)) continue;
    const user = request.username;
    return user !== undefined && (rule.users.has(user) || rule.users.has('*'));
  }
  return undefined;
}
