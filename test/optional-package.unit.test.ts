import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importOptional, isMissingPackage, missingPackageMessage, requireOptional } from '../shared/optional-package.js';

describe('optional packages: a missing one is named, with how to install it', () => {
  it('requireOptional and importOptional explain a package that is not installed', async () => {
    assert.throws(
      () => requireOptional('orthanc-recipes-no-such-package', import.meta.url),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ORC_ERR_MISSING_PACKAGE');
        assert.match(
          error.message,
          /^the optional package orthanc-recipes-no-such-package, needed by this feature, is not installed: install it beside orthanc-recipes \("npm install orthanc-recipes-no-such-package"/,
        );
        return true;
      },
    );
    await assert.rejects(
      // @ts-expect-error: the package does not exist, which is the point.
      importOptional('orthanc-recipes-no-such-package', () => import('orthanc-recipes-no-such-package')),
      { code: 'ORC_ERR_MISSING_PACKAGE' },
    );
    assert.equal(
      requireOptional<{ version: unknown }>('ajv/package.json', import.meta.url).version !== undefined,
      true,
      'an installed package loads',
    );
  });

  it('tells a missing package from a failure inside an installed one', () => {
    assert.equal(
      isMissingPackage({ code: 'ERR_MODULE_NOT_FOUND', message: "Cannot find package 'sharp' imported from /srv/x.js" }, 'sharp'),
      true,
    );
    assert.equal(isMissingPackage({ code: 'MODULE_NOT_FOUND', message: "Cannot find module 'dcmjs'\nRequire stack:" }, 'dcmjs'), true);
    assert.equal(
      isMissingPackage({ code: 'ERR_MODULE_NOT_FOUND', message: "Cannot find package 'tsx' imported from /srv/x.js" }, 'tsx'),
      true,
    );
    // A file missing inside the installed package, or another package missing: not "install sharp".
    assert.equal(
      isMissingPackage({ code: 'MODULE_NOT_FOUND', message: "Cannot find module '/srv/node_modules/sharp/lib/sharp.js'" }, 'sharp'),
      false,
    );
    assert.equal(
      isMissingPackage(
        {
          code: 'ERR_MODULE_NOT_FOUND',
          message: "Cannot find package '@img/sharp-linux-x64' imported from /srv/node_modules/sharp/lib/x.js",
        },
        'sharp',
      ),
      false,
    );
    assert.equal(isMissingPackage(new Error('Could not load the "sharp" module'), 'sharp'), false);
    assert.match(missingPackageMessage('sharp'), /needed by the thumbnails recipe/);
  });
});
