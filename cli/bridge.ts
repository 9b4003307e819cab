import { chmod, writeFile } from 'node:fs/promises';
import { ConfigError, loadConfig } from '../host/index.js';
import { bridgeSecret } from '../host/bridge.js';
import { bridgeNeeds, bridgeScript, needsBridge } from '../host/bridge-script.js';

/**
 * `orthanc-recipes bridge`: the Lua script for the enabled recipes' hooks, with the bridge's
 * secret (made in the state folder if it is not there yet) and address. Exit code 2 for a bad
 * configuration; with no recipe needing the bridge, a script that defines nothing, and a note.
 */
export async function printBridgeScript(file: string, output: string | undefined): Promise<number> {
  let loaded;
  try {
    loaded = await loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const needs = bridgeNeeds(loaded.recipes);
  if (!needsBridge(needs)) process.stderr.write(`${file}: no enabled recipe uses the bridge; the script defines no callback\n`);
  const { Bridge: bridge } = loaded.config;
  if (!bridge.Url && bridge.Port === 0) {
    process.stderr.write(`${file}: /Bridge/Port is 0 (a free port at each start): give a port, or a Url, for an Orthanc of your own\n`);
    return 2;
  }
  const url = bridge.Url || `http://${bridge.Host.includes(':') ? `[${bridge.Host}]` : bridge.Host}:${bridge.Port}`;
  const secret = await bridgeSecret(loaded.stateDirectory);
  const script = bridgeScript(needs, { url, secret, timeoutSeconds: bridge.TimeoutSeconds, whenHostDown: bridge.WhenHostDown });
  if (output === undefined) {
    process.stdout.write(script);
  } else {
    await writeFile(output, script, { mode: 0o600 });
    await chmod(output, 0o600);
    process.stderr.write(`wrote ${output}: add it to Orthanc's "LuaScripts" and restart Orthanc\n`);
  }
  return 0;
}
