import type { Dialect } from '../../database/connect.js';
import { HOUR, MINUTE } from '../../shared/clock.js';
import { ACTOR_TYPES, type ActorType } from '../audit/actor.js';
import { ACTIVITY_OUTCOMES, type ActivityOutcome, OPERATION_TYPES, type OperationType } from './activity.table.js';

/*
 * How an activity event is stored compactly (issue 15): its ULID as 16 bytes
 * (a blob on SQLite, a uuid on PostgreSQL, both ordered bytewise, so time
 * order) from which its timestamp is read back; enumerations as small
 * integers; repeated text (environment and key ids, actors, field names) as
 * integers of `activity_refs`.
 */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DIGIT = new Map([...CROCKFORD].map((c, i) => [c, i]));
const ULID = /^act_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** 16 bytes of an `act_…` id (the 130 bits of 26 base32 digits, the top two always zero). */
export function activityIdBytes(id: string): Buffer {
  if (!ULID.test(id)) throw new Error(`not an activity event id: ${JSON.stringify(id)}`);
  const out = Buffer.alloc(16);
  let bits = 0;
  let value = 0;
  let at = 0;
  // The first digit carries 3 bits (128 = 3 + 25 × 5).
  for (let i = 4; i < 30; i++) {
    const width = i === 4 ? 3 : 5;
    value = (value << width) | DIGIT.get(id[i]!)!;
    bits += width;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
      value &= (1 << bits) - 1;
    }
  }
  return out;
}

/** The `act_…` id of 16 stored bytes. */
export function activityIdOf(bytes: Uint8Array): string {
  let out = '';
  let value = 0;
  let bits = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    // The first digit is the top 3 bits; every later one 5.
    while (bits >= (out.length === 0 ? 3 : 5)) {
      const width = out.length === 0 ? 3 : 5;
      bits -= width;
      out += CROCKFORD[(value >> bits) & ((1 << width) - 1)];
      value &= (1 << bits) - 1;
    }
  }
  return `act_${out}`;
}

/** Milliseconds since the epoch in an event id (its first 48 bits). */
export function timeOfBytes(bytes: Uint8Array): number {
  let ms = 0;
  for (let i = 0; i < 6; i++) ms = ms * 256 + bytes[i]!;
  return ms;
}

/** The smallest stored id of a millisecond: ids at or after it are events at or after that time. */
export function bytesAtTime(ms: number): Buffer {
  const out = Buffer.alloc(16);
  let t = Math.max(0, Math.floor(ms));
  for (let i = 5; i >= 0; i--, t = Math.floor(t / 256)) out[i] = t % 256;
  return out;
}

/** The column value of stored id bytes in a dialect: a blob on SQLite, uuid text on PostgreSQL. */
export type StoredId = Buffer | string;

export function idCodec(dialect: Dialect) {
  if (dialect === 'sqlite') {
    return {
      encode: (bytes: Buffer): StoredId => bytes,
      decode: (value: StoredId): Buffer => value as Buffer,
    };
  }
  return {
    encode: (bytes: Buffer): StoredId => {
      const hex = bytes.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
    decode: (value: StoredId): Buffer => Buffer.from(String(value).replaceAll('-', ''), 'hex'),
  };
}

/** Enumerations as 1-based small integers; 0 means "any" in the counters. */
function enumCodec<T extends string>(values: readonly T[]) {
  return {
    code: (value: T): number => values.indexOf(value) + 1,
    value: (code: number): T => values[code - 1]!,
  };
}
export const outcomeCodes = enumCodec<ActivityOutcome>(ACTIVITY_OUTCOMES);
export const actorTypeCodes = enumCodec<ActorType>(ACTOR_TYPES);
export const operationCodes = enumCodec<OperationType>(OPERATION_TYPES);

/** Counter granularities: the value is the bucket's width in minutes. */
export const SPAN = { minute: 1, hour: 60 } as const;

/** Minutes since the epoch of the minute / hour a time falls in. */
export const minuteOf = (ms: number): number => Math.floor(ms / MINUTE);
export const hourOf = (ms: number): number => Math.floor(ms / HOUR) * 60;
