import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as binding from '../../../shared/binding/index.js';
import { createScopedBinding, createLogger, RestRouter, type ChangeFeed, type OrthancConnection } from '../../../shared/binding/index.js';
import { cliPath } from '../../../test/helpers/host.js';
import { describeApi, python, pythonSpelling, type Introspection } from '../describe.js';
import { toMarkdown } from '../markdown.js';

const run = promisify(execFile);
const description = describeApi();

const isClass = (value: unknown): boolean => typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
const isEnumeration = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  Object.values(value).length > 0 &&
  Object.values(value).every((v) => typeof v === 'number');
const sorted = (names: Iterable<string>) => [...names].sort();

/** The names of what `ctx.orthanc` really holds, from a binding made by the host's own factory. */
function realBindingMethods(): string[] {
  const { binding: real } = createScopedBinding({
    connection: {} as OrthancConnection,
    feed: {} as ChangeFeed,
    router: new RestRouter(),
    log: createLogger('test', { write: () => {} }),
    owner: 'test',
  });
  return Object.keys(real);
}

/** The Python plugin's numbers (python-plugin-anchors.md 2.3, from orthanc-python's OrthancPluginCodeModel.json). */
const pythonEnumerations: Record<string, Record<string, number>> = {
  ChangeType: {
    COMPLETED_SERIES: 0,
    DELETED: 1,
    NEW_CHILD_INSTANCE: 2,
    NEW_INSTANCE: 3,
    NEW_PATIENT: 4,
    NEW_SERIES: 5,
    NEW_STUDY: 6,
    STABLE_PATIENT: 7,
    STABLE_SERIES: 8,
    STABLE_STUDY: 9,
    ORTHANC_STARTED: 10,
    ORTHANC_STOPPED: 11,
    UPDATED_ATTACHMENT: 12,
    UPDATED_METADATA: 13,
    UPDATED_PEERS: 14,
    UPDATED_MODALITIES: 15,
    JOB_SUBMITTED: 16,
    JOB_SUCCESS: 17,
    JOB_FAILURE: 18,
  },
  ResourceType: { PATIENT: 0, STUDY: 1, SERIES: 2, INSTANCE: 3, NONE: 4 },
  InstanceOrigin: { UNKNOWN: 1, DICOM_PROTOCOL: 2, REST_API: 3, PLUGIN: 4, LUA: 5, WEB_DAV: 6 },
};

describe('introspection: the binding described from its declarations', () => {
  it('lists every function and class the binding module exports, and nothing it does not', () => {
    const exported = Object.entries(binding);
    const expectedClasses = exported.filter(([, v]) => isClass(v)).map(([name]) => name);
    const expectedFunctions = exported.filter(([, v]) => typeof v === 'function' && !isClass(v)).map(([name]) => name);
    // At run time an enumeration and a table of numbers look alike; the declarations tell them
    // apart. Constants include plain values (a DIMSE status, a default limit, a pattern).
    const expectedObjects = exported.filter(([, v]) => typeof v !== 'function').map(([name]) => name);
    assert.ok(
      expectedClasses.includes('DicomInstance') && expectedClasses.includes('RestOutput') && expectedClasses.includes('OrthancHttpError'),
    );
    assert.deepEqual(sorted(description.Binding.Classes.map((c) => c.Name)), sorted(expectedClasses));
    assert.deepEqual(sorted(description.Binding.Functions.filter((f) => !f.Of).map((f) => f.Name)), sorted(expectedFunctions));
    assert.deepEqual(
      sorted([...description.Binding.Enumerations, ...description.Binding.Constants].map((e) => e.Name)),
      sorted(expectedObjects),
    );
    for (const e of description.Binding.Enumerations) assert.ok(isEnumeration((binding as Record<string, unknown>)[e.Name]), e.Name);
    // Every runtime export is described as exactly one kind.
    assert.equal(expectedClasses.length + expectedFunctions.length + expectedObjects.length, exported.length);
  });

  it("lists ctx.orthanc's methods (the OrthancBinding interface) as the module's functions", () => {
    const described = description.Binding.Functions.filter((f) => f.Of === 'OrthancBinding').map((f) => f.Name);
    assert.deepEqual(sorted(described), sorted(realBindingMethods()));
    const get = description.Binding.Functions.find((f) => f.Name === 'restApiGet')!;
    assert.deepEqual(get.Signatures, ['restApiGet(uri: string, headers?: Record<string, string>): Promise<Buffer>']);
    assert.match(get.Documentation, /OrthancHttpError/);
  });

  it('gives each class its public methods and properties, with signatures and documentation', () => {
    for (const described of description.Binding.Classes) {
      const real = (binding as Record<string, unknown>)[described.Name] as { prototype: object };
      const own = Object.getOwnPropertyNames(real.prototype);
      for (const method of described.Methods) {
        if (!method.Static) assert.ok(own.includes(method.Name), `${described.Name}.${method.Name} is on the prototype`);
        assert.ok(
          method.Signatures.length > 0 && method.Signatures.every((s) => s.startsWith(`${method.Static ? 'static ' : ''}${method.Name}`)),
        );
      }
      assert.ok(
        described.Constructor.every((c) => c.startsWith(`new ${described.Name}(`)),
        described.Name,
      );
    }
    const dicom = description.Binding.Classes.find((c) => c.Name === 'DicomInstance')!;
    assert.ok(dicom.Documentation.includes('DicomInstance'));
    const size = dicom.Methods.find((m) => m.Name === 'getInstanceSize')!;
    assert.deepEqual(size.Signatures, ['getInstanceSize(): Promise<number>']);
    assert.equal(size.Documentation, 'Size in bytes of the stored DICOM file.');
    assert.equal(size.Python, 'GetInstanceSize');
    // TypeScript-private members stay out.
    assert.ok(!dicom.Methods.some((m) => m.Name === 'once'));
    assert.ok(!description.Binding.Classes.find((c) => c.Name === 'RestOutput')!.Methods.some((m) => m.Name === 'claim'));
    assert.equal(description.Binding.Classes.find((c) => c.Name === 'OrthancHttpError')!.Extends, 'BindingError');
  });

  it("gives the enumerations every name and number, equal to the Python plugin's", () => {
    assert.deepEqual(sorted(description.Binding.Enumerations.map((e) => e.Name)), sorted(Object.keys(pythonEnumerations)));
    for (const enumeration of description.Binding.Enumerations) {
      const described = Object.fromEntries(enumeration.Values.map((v) => [v.Name, v.Value]));
      assert.deepEqual(described, pythonEnumerations[enumeration.Name], enumeration.Name);
      assert.deepEqual(described, (binding as Record<string, unknown>)[enumeration.Name], `${enumeration.Name} as the binding exports it`);
      assert.equal(enumeration.Python, enumeration.Name);
    }
  });
});

describe('introspection: the Python plugin side', () => {
  it("maps each of ctx.orthanc's functions to its Python name by upper camel case, checked against the module's list", () => {
    const mapped = Object.fromEntries(description.Binding.Functions.filter((f) => f.Python).map((f) => [f.Name, f.Python]));
    assert.deepEqual(mapped, {
      restApiGet: 'RestApiGet',
      restApiPost: 'RestApiPost',
      restApiPut: 'RestApiPut',
      restApiDelete: 'RestApiDelete',
      getDicomForInstance: 'GetDicomForInstance',
      registerRestCallback: 'RegisterRestCallback',
      registerIncomingHttpRequestFilter: 'RegisterIncomingHttpRequestFilter',
      registerIncomingCStoreInstanceFilter: 'RegisterIncomingCStoreInstanceFilter',
      registerOnChangeCallback: 'RegisterOnChangeCallback',
      registerOnStoredInstanceCallback: 'RegisterOnStoredInstanceCallback',
      logInfo: 'LogInfo',
      logWarning: 'LogWarning',
      logError: 'LogError',
    });
    for (const f of description.Binding.Functions) {
      if (f.Python) assert.ok(python.functions.includes(f.Python), f.Python);
      else if (f.Of) assert.ok(!python.functions.includes(pythonSpelling(f.Name)), `${f.Name} has a Python counterpart but no mapping`);
    }
  });

  it('lists every Python function the binding lacks, once, with its reason', () => {
    const offered = new Set(description.Binding.Functions.flatMap((f) => (f.Python ? [f.Python] : [])));
    const notOffered = description.Python.FunctionsNotOffered.map((n) => n.Name);
    assert.equal(new Set(python.functions).size, python.functions.length, 'no Python function is listed twice');
    assert.deepEqual(sorted([...offered, ...notOffered]), sorted(python.functions));
    assert.equal(description.Python.FunctionsOffered + notOffered.length, description.Python.Functions);
    // The data names exactly the functions that are not offered: one the binding gains must leave it.
    const inData = python.notOffered.flatMap((group) => Object.keys(group.functions));
    assert.deepEqual(sorted(inData), sorted(notOffered));
    for (const n of description.Python.FunctionsNotOffered) assert.ok(n.Reason.length > 20 && !n.Reason.startsWith('No reason'), n.Name);
    const cFind = description.Python.FunctionsNotOffered.find((n) => n.Name === 'RegisterFindCallback')!;
    assert.match(cFind.Reason, /in-process plugin/);
    assert.equal(description.Python.FunctionsNotOffered.find((n) => n.Name === 'LookupPatient')!.Instead, 'POST /tools/lookup');
  });

  it('maps the methods of DicomInstance and RestOutput, and gives the rest of the Python classes a reason', () => {
    const offered = description.Binding.Classes.filter((c) => c.Python);
    assert.deepEqual(sorted(offered.map((c) => c.Name)), ['DicomInstance', 'RestOutput']);
    for (const c of offered) {
      const pythonMethods = python.classes[c.Name]!;
      const mapped = c.Methods.flatMap((m) => (m.Python ? [m.Python] : []));
      const missing = description.Python.MethodsNotOffered.filter((n) => n.Name.startsWith(`${c.Name}.`)).map((n) =>
        n.Name.slice(c.Name.length + 1),
      );
      assert.deepEqual(sorted([...mapped, ...missing]), sorted(pythonMethods), c.Name);
      for (const name of missing) assert.ok(python.methodsNotOffered[`${c.Name}.${name}`], `${c.Name}.${name} has no "instead"`);
    }
    const classes = description.Python.ClassesNotOffered.map((n) => n.Name);
    assert.deepEqual(sorted(classes), sorted(Object.keys(python.classes).filter((name) => !offered.some((c) => c.Name === name))));
    for (const n of description.Python.ClassesNotOffered) assert.ok(!n.Reason.startsWith('No reason'), n.Name);
    assert.equal(description.Python.EnumerationsNotOffered.length, python.enumerations.length - 3);
  });
});

describe('introspection: Markdown', () => {
  const markdown = toMarkdown(description);
  const section = (heading: string) => {
    const start = markdown.indexOf(`\n## ${heading}\n`);
    assert.ok(start >= 0, `section "## ${heading}"`);
    const end = markdown.indexOf('\n## ', start + 1);
    return markdown.slice(start, end < 0 ? undefined : end);
  };

  it('has a section per kind, each naming everything of that kind', () => {
    const functions = section('Functions');
    for (const f of description.Binding.Functions) assert.ok(functions.includes(`### ${f.Of ? 'ctx.orthanc.' : ''}${f.Name}\n`), f.Name);
    const classes = section('Classes');
    for (const c of description.Binding.Classes) {
      assert.ok(classes.includes(`### ${c.Name}`), c.Name);
      for (const m of c.Methods) assert.ok(classes.includes(m.Signatures[0]!.replace(/\|/g, '\\|')), `${c.Name}.${m.Name}`);
    }
    const enumerations = section('Enumerations');
    for (const e of description.Binding.Enumerations)
      for (const v of e.Values) assert.ok(enumerations.includes(`| ${v.Name} | ${v.Value} |`), `${e.Name}.${v.Name}`);
    const constants = section('Constants');
    for (const c of description.Binding.Constants) assert.ok(constants.includes(`| ${c.Name} |`), c.Name);
    const types = section('Types');
    for (const t of description.Binding.Types) assert.ok(types.includes(`### ${t.Name}\n`), t.Name);
    const missing = section('Python functions the binding does not offer');
    for (const n of description.Python.FunctionsNotOffered) assert.ok(missing.includes(`| \`${n.Name}\` |`), n.Name);
    assert.ok(!markdown.includes('## Live system'), 'no live section without a live part');
  });
});

describe('introspection: the CLI', { timeout: 60_000 }, () => {
  it('prints the JSON with no Orthanc and no configuration', async () => {
    const { stdout } = await run(process.execPath, [cliPath, 'introspect']);
    assert.deepEqual(JSON.parse(stdout), JSON.parse(JSON.stringify(description)));
  });

  it('prints the Markdown with --format markdown, and refuses another format with exit code 2', async () => {
    const { stdout } = await run(process.execPath, [cliPath, 'introspect', '--format', 'markdown']);
    assert.equal(stdout, toMarkdown(description as Introspection));
    await assert.rejects(run(process.execPath, [cliPath, 'introspect', '--format', 'xml']), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr ?? '', /unknown format "xml"/);
      return true;
    });
  });

  it('with --config, lists the enabled recipes and says Orthanc does not answer, never printing a password', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-introspect-'));
    const configFile = join(directory, 'orthanc-recipes.json');
    const password = 'Cli-Orthanc-Pw-4711';
    await writeFile(
      configFile,
      JSON.stringify({
        // Port 9 (discard) on loopback: nothing answers.
        Orthanc: { Url: `http://admin:${password}@127.0.0.1:9`, Username: 'admin', Password: password },
        // A value equal to the host's Orthanc password is masked wherever it is.
        Recipes: { hello: { Enabled: true }, introspection: { Enabled: true, MaskedKeys: ['Private', password] } },
      }),
    );
    for (const format of ['json', 'markdown']) {
      const { stdout } = await run(process.execPath, [cliPath, 'introspect', '--config', configFile, '--format', format]);
      assert.ok(!stdout.includes(password), `the password appears in the ${format} output`);
      if (format === 'json') {
        const live = (JSON.parse(stdout) as Introspection).Live!;
        assert.equal(live.Orthanc.Answers, false);
        assert.deepEqual(
          live.Recipes.map((r) => [r.Id, r.Status]),
          [
            ['hello', 'configured'],
            ['introspection', 'configured'],
          ],
        );
        assert.deepEqual(live.Recipes[1]!.Options, { ShowOptions: true, MaskedKeys: ['Private', '********'] });
      } else {
        assert.match(stdout, /## Live system/);
      }
    }
  });
});
