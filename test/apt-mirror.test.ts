import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { repositoryRoot } from './helpers/host.js';

/** Runs scripts/apt-debian-mirror.sh on an apt folder made of `files`, for the release `bookworm`. */
async function mirrorNamedBy(files: Record<string, string>): Promise<string> {
  const apt = await mkdtemp(join(tmpdir(), 'orthanc-recipes-apt-'));
  await mkdir(join(apt, 'sources.list.d'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(apt, name), content);
  const { stdout } = await promisify(execFile)('sh', [join(repositoryRoot, 'scripts', 'apt-debian-mirror.sh'), apt, 'bookworm']);
  return stdout.trim();
}

// scripts/prepare-orthanc-root.sh passes this mirror to debootstrap, or none when it prints nothing.
describe("the Debian mirror named by apt's sources", () => {
  it('reads the deb822 format, skipping security, disabled and third-party stanzas', async () => {
    const sources = [
      'Types: deb\nURIs: http://security.mirror.example/debian-security\nSuites: bookworm-security\nComponents: main',
      'Types: deb\nURIs: https://vendor.example/apt\nSuites: nodistro\nComponents: main',
      'Types: deb\nEnabled: no\nURIs: http://disabled.mirror.example/debian\nSuites: bookworm\nComponents: main',
      '# a comment\nTypes: deb-src deb\n# http://snapshot.example/archive\nURIs: mirror+file:/etc/apt/mirrors.txt\n http://main.mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib',
    ].join('\n\n');
    assert.equal(await mirrorNamedBy({ 'sources.list.d/debian.sources': sources }), 'http://main.mirror.example/debian');
  });

  it('reads the one-line format, with options in brackets, before sources.list.d', async () => {
    assert.equal(
      await mirrorNamedBy({
        'sources.list': [
          '# deb http://commented.mirror.example/debian bookworm main',
          'deb-src http://source.mirror.example/debian bookworm main',
          'deb http://security.mirror.example/debian-security bookworm-security main',
          'deb [arch=amd64] https://vendor.example/apt bookworm stable',
          'deb [ arch=amd64 signed-by=/usr/share/keyrings/debian.gpg ] http://one-line.mirror.example/debian bookworm main non-free',
        ].join('\n'),
        'sources.list.d/debian.sources': 'Types: deb\nURIs: http://later.mirror.example/debian\nSuites: bookworm\nComponents: main',
      }),
      'http://one-line.mirror.example/debian',
    );
    assert.equal(
      await mirrorNamedBy({ 'sources.list.d/local.list': 'deb file:/srv/mirror/debian bookworm main\n' }),
      'file:/srv/mirror/debian',
    );
  });

  it('prints nothing when no source names a Debian mirror for this release', async () => {
    assert.equal(await mirrorNamedBy({}), '');
    assert.equal(
      await mirrorNamedBy({
        'sources.list': 'deb http://old.mirror.example/debian bullseye main\n',
        'sources.list.d/vendor.sources': 'Types: deb\nURIs: https://vendor.example/apt\nSuites: bookworm\nComponents: stable',
        'sources.list.d/cdrom.list': 'deb cdrom:[Debian 12]/ bookworm main\n',
        'sources.list.d/ignored.list.disabled': 'deb http://ignored.mirror.example/debian bookworm main\n',
      }),
      '',
    );
  });
});
