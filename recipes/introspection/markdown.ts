import type { Introspection, LiveDescription } from './describe.js';

/** A table cell: one line, pipes escaped. */
const cell = (text: string | number | null | undefined): string =>
  String(text ?? '')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
const code = (text: string): string => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);
const quote = (documentation: string): string[] => (documentation ? [documentation, ''] : []);
const python = (name: string | null): string => (name ? `Python: ${code(name)}.` : 'Python: none (TypeScript only).');

/**
 * The same description as a readable page, one `##` section per kind: functions, classes,
 * enumerations, constants, types, what the Python plugin has that the binding does not offer, and
 * the live system when there is one.
 */
export function toMarkdown(description: Introspection): string {
  const { Binding: binding, Python: py } = description;
  const lines: string[] = [`# The ${code(binding.Module)} API`, '', ...quote(binding.Documentation)];
  lines.push(
    `Against the Python plugin's ${code('orthanc')} module, as of ${py.Source}: the binding offers ${py.FunctionsOffered} ` +
      `of its ${py.Functions} functions, and the others are listed below with the reason.`,
    '',
  );

  lines.push('## Functions', '');
  for (const f of binding.Functions) {
    lines.push(`### ${f.Of ? `ctx.orthanc.${f.Name}` : f.Name}`, '', '```ts', ...f.Signatures, '```', '', ...quote(f.Documentation));
    lines.push(`${python(f.Python)} Source: ${code(f.Source)}.`, '');
  }

  lines.push('## Classes', '');
  for (const c of binding.Classes) {
    lines.push(`### ${c.Name}${c.Extends ? ` (extends ${c.Extends})` : ''}`, '', ...quote(c.Documentation));
    lines.push(`${c.Python ? `Python: ${code(c.Python)}.` : 'Python: none (TypeScript only).'} Source: ${code(c.Source)}.`, '');
    lines.push('```ts', ...c.Constructor, '```', '');
    if (c.Properties.length) {
      lines.push('| Property | Type | Documentation |', '| --- | --- | --- |');
      for (const p of c.Properties)
        lines.push(
          `| ${p.Static ? 'static ' : ''}${p.Readonly ? 'readonly ' : ''}${cell(p.Name)} | ${cell(code(p.Type))} | ${cell(p.Documentation)} |`,
        );
      lines.push('');
    }
    if (c.Methods.length) {
      lines.push('| Method | Python | Documentation |', '| --- | --- | --- |');
      for (const m of c.Methods)
        lines.push(`| ${cell(m.Signatures.map(code).join(' '))} | ${cell(m.Python ?? '')} | ${cell(m.Documentation)} |`);
      lines.push('');
    }
  }

  lines.push('## Enumerations', '');
  for (const e of binding.Enumerations) {
    lines.push(`### ${e.Name}`, '', ...quote(e.Documentation));
    lines.push(`${e.Python ? `Python: ${code(e.Python)}, same names and numbers.` : 'Python: none.'}`, '');
    lines.push('| Name | Value | Documentation |', '| --- | --- | --- |');
    for (const v of e.Values) lines.push(`| ${cell(v.Name)} | ${v.Value} | ${cell(v.Documentation)} |`);
    lines.push('');
  }

  lines.push('## Constants', '', '| Name | Type | Documentation |', '| --- | --- | --- |');
  for (const c of binding.Constants) lines.push(`| ${cell(c.Name)} | ${cell(code(c.Type))} | ${cell(c.Documentation)} |`);
  lines.push('');

  lines.push('## Types', '');
  for (const t of binding.Types) {
    lines.push(`### ${t.Name}`, '', ...quote(t.Documentation));
    if (t.Definition !== undefined) lines.push('```ts', `type ${t.Name} = ${t.Definition}`, '```', '');
    if (t.Members?.length) {
      lines.push('| Member | Documentation |', '| --- | --- |');
      for (const m of t.Members) lines.push(`| ${cell(code(m.Definition))} | ${cell(m.Documentation)} |`);
      lines.push('');
    }
  }

  lines.push('## Python functions the binding does not offer', '', '| Python function | Why | Instead |', '| --- | --- | --- |');
  for (const n of py.FunctionsNotOffered) lines.push(`| ${code(n.Name)} | ${cell(n.Reason)} | ${cell(n.Instead)} |`);
  lines.push('');
  lines.push(
    '### Python classes, methods and enumerations the binding does not offer',
    '',
    '| Python name | Why | Instead |',
    '| --- | --- | --- |',
  );
  for (const n of [...py.ClassesNotOffered, ...py.MethodsNotOffered, ...py.EnumerationsNotOffered]) {
    lines.push(`| ${code(n.Name)} | ${cell(n.Reason)} | ${cell(n.Instead)} |`);
  }
  lines.push('');

  if (description.Live) lines.push(...liveMarkdown(description.Live));
  return lines.join('\n');
}

function liveMarkdown(live: LiveDescription): string[] {
  const lines = ['## Live system', '', `orthanc-recipes ${live.Host.Version}.`, '', '### Orthanc', ''];
  const orthanc = live.Orthanc;
  if (!orthanc.Answers) {
    lines.push(`Orthanc does not answer: ${orthanc.Error}`, '');
  } else {
    lines.push(
      `Orthanc ${orthanc.Version}, REST API version ${orthanc.ApiVersion}, named ${code(orthanc.Name)}, AET ${code(orthanc.DicomAet)}.`,
      '',
    );
    const list = (items: string[]) => (items.length ? items.map(code).join(', ') : 'none');
    lines.push(
      `- Plugins: ${orthanc.Plugins.length ? orthanc.Plugins.map((p) => `${code(p.ID)}${p.Version ? ` ${p.Version}` : ''}`).join(', ') : 'none'}`,
    );
    lines.push(`- Modalities: ${list(orthanc.Modalities)}`, `- Peers: ${list(orthanc.Peers)}`);
    for (const error of orthanc.Errors ?? []) lines.push(`- Could not read ${error}`);
    lines.push('');
  }
  lines.push('### Recipes', '');
  if (live.Recipes.length === 0) lines.push('No recipe is enabled.', '');
  for (const r of live.Recipes) {
    lines.push(`#### ${r.Id}: ${r.Title}`, '', r.Description, '');
    lines.push(`- Status: ${r.Status}${r.Error ? ` (${r.Error})` : ''}${r.Destructive ? '; destructive' : ''}`);
    lines.push(`- Routes: ${r.Routes.length ? r.Routes.map(code).join(', ') : 'none'}`);
    if (r.Served?.length) lines.push(`- Served (methods, pattern): ${r.Served.map(code).join(', ')}`);
    lines.push(`- Events: ${r.Events.length ? r.Events.map(code).join(', ') : 'none'}`);
    if (r.PriorArt) lines.push(`- Prior art: ${r.PriorArt}`);
    lines.push('');
    if (r.Options) lines.push('Options in force (secrets masked):', '', '```json', JSON.stringify(r.Options, null, 2), '```', '');
    lines.push('<details><summary>Options schema</summary>', '', '```json', JSON.stringify(r.Schema, null, 2), '```', '', '</details>', '');
  }
  return lines;
}
