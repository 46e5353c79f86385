import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Key material format (SPEC §3): `server-` or `client-`, then a base62 body of
 * 43 characters (32 random bytes from the CSPRNG) and 6 characters of CRC32
 * checksum over prefix and random part. Secret scanners match it with
 * KEY_PATTERN; the checksum lets us reject typos and garbage before any
 * database read.
 */
export const KEY_PREFIXES = ['server-', 'client-'] as const;
export type KeyPrefix = (typeof KEY_PREFIXES)[number];

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_BYTES = 32;
const RANDOM_CHARS = 43; // ceil(256 / log2(62))
const CHECKSUM_CHARS = 6; // ceil(32 / log2(62))

export const KEY_PATTERN = /^(server|client)-[0-9A-Za-z]{49}$/;

function base62(bytes: Buffer, width: number): string {
  let n = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(width, '0');
}

/**
 * CRC32 (unsigned) in base62, zero-padded: plain number arithmetic, as it runs
 * on every request. zlib's CRC of a string is over its UTF-8 bytes; key text is
 * ASCII, so checksums are those of every key issued before (crc-32's `str`).
 */
function checksum(prefix: string, random: string): string {
  let n = crc32(prefix + random);
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** A fresh key secret with the given prefix. */
export function generateKeySecret(prefix: KeyPrefix): string {
  const random = base62(randomBytes(RANDOM_BYTES), RANDOM_CHARS);
  return prefix + random + checksum(prefix, random);
}

/** Shape and checksum check, no I/O: malformed keys never reach the database. */
export function isWellFormedKey(candidate: string): boolean {
  if (!KEY_PATTERN.test(candidate)) return false;
  const dash = candidate.indexOf('-') + 1;
  const prefix = candidate.slice(0, dash);
  const random = candidate.slice(dash, dash + RANDOM_CHARS);
  return candidate.slice(dash + RANDOM_CHARS) === checksum(prefix, random);
}

/** SHA-256 digest, hex: what the database stores and looks keys up by. */
export function digestKey(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time equality of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `server-••••3f9a`: prefix, bullets, last four characters. Never more. */
export function maskKey(prefix: KeyPrefix, last4: string): string {
  return `${prefix}••••${last4}`;
}
