import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  digestKey,
  digestsEqual,
  generateKeySecret,
  isWellFormedKey,
  KEY_PATTERN,
  maskKey,
} from '../../src/modules/api-key/api-key.secret.js';
import { SecretBox } from '../../src/shared/secret-box.js';

describe('key material', () => {
  it('generates prefixed base62 secrets matching the documented pattern', () => {
    for (const prefix of ['server-', 'client-'] as const) {
      const secret = generateKeySecret(prefix);
      expect(secret.startsWith(prefix)).toBe(true);
      expect(secret).toMatch(KEY_PATTERN);
      expect(isWellFormedKey(secret)).toBe(true);
    }
  });

  it('accepts keys issued by earlier releases (the checksum format is stable)', () => {
    // Issued before the checksum moved from BigInt to number arithmetic; stored keys must keep working.
    for (const issued of [
      'client-O0YPaSI5lMYXec1jCUBPbievciPvhubANcpdHnD9shf3rGzjQ',
      'server-liqtzJVhqRSrXWtg5KALuQlm2AfQEDWNymmPjg8U9qu2pXX0w',
    ]) {
      expect(isWellFormedKey(issued)).toBe(true);
      expect(isWellFormedKey(`${issued.slice(0, -1)}${issued.endsWith('w') ? 'x' : 'w'}`)).toBe(false);
    }
  });

  it('never repeats a secret', () => {
    const secrets = new Set(Array.from({ length: 2000 }, () => generateKeySecret('server-')));
    expect(secrets.size).toBe(2000);
  });

  it('rejects any single-character change through the checksum', () => {
    const secret = generateKeySecret('server-');
    let rejected = 0;
    for (let i = 7; i < secret.length; i++) {
      const replacement = secret[i] === 'a' ? 'b' : 'a';
      const changed = secret.slice(0, i) + replacement + secret.slice(i + 1);
      if (!isWellFormedKey(changed)) rejected++;
    }
    expect(rejected).toBe(secret.length - 7);
  });

  it('rejects a valid body under the other prefix, wrong lengths and foreign characters', () => {
    const secret = generateKeySecret('server-');
    expect(isWellFormedKey(secret.replace('server-', 'client-'))).toBe(false);
    expect(isWellFormedKey(secret.slice(0, -1))).toBe(false);
    expect(isWellFormedKey(`${secret}0`)).toBe(false);
    expect(isWellFormedKey(`${secret.slice(0, -1)}é`)).toBe(false);
    expect(isWellFormedKey('')).toBe(false);
  });

  it('digests with SHA-256 and compares digests in constant time', () => {
    const secret = generateKeySecret('server-');
    expect(digestKey(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(digestsEqual(digestKey(secret), digestKey(secret))).toBe(true);
    expect(digestsEqual(digestKey(secret), digestKey(generateKeySecret('server-')))).toBe(false);
    expect(digestsEqual(digestKey(secret), 'ab')).toBe(false);
  });

  it('masks a key as prefix, bullets and the last four characters', () => {
    expect(maskKey('server-', '3f9a')).toBe('server-••••3f9a');
  });
});

describe('secret box (AES-256-GCM)', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips and never emits the plaintext', () => {
    const secret = generateKeySecret('server-');
    const sealed = box.seal(secret, 'key_1');
    expect(sealed).not.toContain(secret.slice(7));
    expect(box.open(sealed, 'key_1')).toBe(secret);
    expect(box.seal(secret, 'key_1')).not.toBe(sealed);
  });

  it('refuses tampered ciphertext, another row and another master key', () => {
    const sealed = box.seal('hello', 'key_1');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('jello').toString('base64url');
    expect(() => box.open(parts.join('.'), 'key_1')).toThrow();
    expect(() => box.open(sealed, 'key_2')).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'key_1')).toThrow();
  });

  it('requires a 32-byte master key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});
