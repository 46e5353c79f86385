import { describe, expect, it } from 'vitest';
import { newId, ulid } from '../../src/shared/ids.js';

describe('ids', () => {
  it('are prefixed ULIDs: 26 Crockford base32 characters after the prefix', () => {
    const id = newId('key');
    expect(id).toMatch(/^key_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('sort in creation order and never repeat, even within one millisecond', () => {
    const ids = Array.from({ length: 50_000 }, () => ulid());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, i) => i === 0 || ids[i - 1]! < id)).toBe(true);
  });

  it('encode the time in the first ten characters', () => {
    expect(ulid(0).slice(0, 10)).toBe('0000000000');
    expect(ulid(1_469_918_176_385).slice(0, 10)).toBe('01ARYZ6S41');
  });
});
