// Writes recipes/<id>/options.generated.ts from recipes/<id>/schema.json (and the host's
// config type from host/host-schema.json), so that each type is derived from its schema
// and cannot drift from it. Every property that has a `default` is required in the type, since
// the host fills defaults in before setup runs. CI fails when a committed file is stale.
import { compile } from 'json-schema-to-typescript';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const recipesDir = new URL('../recipes/', import.meta.url).pathname;

function requireDefaults(schema) {
  if (!schema || typeof schema !== 'object') return schema;
  const copy = Array.isArray(schema) ? schema.map(requireDefaults) : { ...schema };
  if (copy.properties) {
    copy.properties = Object.fromEntries(Object.entries(copy.properties).map(([k, v]) => [k, requireDefaults(v)]));
    const withDefaults = Object.entries(copy.properties)
      .filter(([, v]) => v && 'default' in v)
      .map(([k]) => k);
    copy.required = [...new Set([...(copy.required ?? []), ...withDefaults])];
  }
  if (copy.items) copy.items = requireDefaults(copy.items);
  for (const key of ['oneOf', 'anyOf', 'allOf']) if (copy[key]) copy[key] = copy[key].map(requireDefaults);
  return copy;
}

const root = new URL('../', import.meta.url).pathname;
const targets = readdirSync(recipesDir)
  .sort()
  .filter((id) => existsSync(join(recipesDir, id, 'schema.json')))
  .map((id) => ({ schema: `recipes/${id}/schema.json`, target: `recipes/${id}/options.generated.ts`, name: 'Options' }));
targets.push({ schema: 'host/host-schema.json', target: 'host/host-config.generated.ts', name: 'HostConfig' });

for (const { schema: schemaFile, target, name } of targets) {
  const schema = requireDefaults(JSON.parse(readFileSync(join(root, schemaFile), 'utf8')));
  const body = await compile({ ...schema, title: name }, name, {
    bannerComment: `// Generated from ${schemaFile} by scripts/generate-option-types.mjs; do not edit.`,
    additionalProperties: false,
    format: false,
  });
  const current = existsSync(join(root, target)) ? readFileSync(join(root, target), 'utf8') : '';
  if (current !== body) writeFileSync(join(root, target), body);
}
