import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskSecrets, maskedValue as m } from '../shared/mask-secrets.js';

describe('maskSecrets', () => {
  it('masks the values of keys that name a secret, at any depth and in any case', () => {
    const value = {
      Password: 'a',
      orthancPassword: 'b',
      ClientSecret: { nested: 'c' },
      AccessToken: 'd',
      Authorization: 'Basic e',
      ApiKey: 'f',
      Keep: 'g',
      Empty: '',
      Options: [{ password: 'h', Name: 'i' }],
      Count: 3,
    };
    assert.deepEqual(maskSecrets(value), {
      Password: m,
      orthancPassword: m,
      ClientSecret: m,
      AccessToken: m,
      Authorization: m,
      ApiKey: m,
      Keep: 'g',
      Empty: '',
      Options: [{ password: m, Name: 'i' }],
      Count: 3,
    });
    assert.equal(value.Password, 'a', 'the original is left alone');
  });

  it("masks Orthanc's RegisteredUsers, OrthancPeers given as arrays, URL passwords and known values", () => {
    const value = {
      RegisteredUsers: { alice: 'wonderland' },
      OrthancPeers: { a: ['http://a:8042/', 'bob', 'builder'], b: { Url: 'http://b/', Username: 'u', Password: 'p' } },
      Url: 'https://user:pass@pacs.example/orthanc',
      Target: 'same-as-orthanc',
      Plain: 'http://pacs.example/orthanc',
    };
    assert.deepEqual(maskSecrets(value, { values: ['same-as-orthanc', undefined] }), {
      RegisteredUsers: { alice: m },
      OrthancPeers: { a: ['http://a:8042/', 'bob', m], b: { Url: 'http://b/', Username: 'u', Password: m } },
      Url: `https://user:${m}@pacs.example/orthanc`,
      Target: m,
      Plain: 'http://pacs.example/orthanc',
    });
  });

  it('masks extra key fragments when asked', () => {
    assert.deepEqual(maskSecrets({ PrivateNote: 'x', Public: 'y' }, { extraKeyFragments: ['private'] }), { PrivateNote: m, Public: 'y' });
  });
});
