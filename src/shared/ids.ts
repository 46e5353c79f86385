import { randomFillSync } from 'node:crypto';

export type IdPrefix = 'acc' | 'usr' | 'env' | 'key' | 'kae' | 'act' | 'int' | 'cus' | 'sub' | 'cpn' | 'whe' | 'wev' | 'whd';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;

/** Random bytes from a refilled pool: one CSPRNG call per 400 ids instead of one per id. */
function randomBytes10(): Buffer {
  if (poolOffset + 10 > POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  poolOffset += 10;
  return POOL.subarray(poolOffset - 10, poolOffset);
}

/**
 * A ULID generator: 10 characters of millisecond time and 16 of randomness,
 * Crockford base32, sortable. Within one millisecond it is monotonic (the
 * previous random part plus one, as ULID specifies), so each generator must
 * be fed one clock: ids of another clock's times (the activity log's, which
 * are the requests' start times) get a generator of their own.
 */
export function ulidGenerator(): (now?: number) => string {
  let lastTime = -1;
  const lastRandom = new Uint8Array(10);

  function nextRandom(now: number): Uint8Array {
    if (now === lastTime) {
      for (let i = 9; i >= 0; i--) {
        lastRandom[i] = (lastRandom[i]! + 1) & 0xff;
        if (lastRandom[i] !== 0) break;
      }
    } else {
      lastTime = now;
      lastRandom.set(randomBytes10());
    }
    return lastRandom;
  }

  return (now = Date.now()) => {
    let time = '';
    for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
    const random = nextRandom(now);
    let bits = 0;
    let value = 0;
    let out = '';
    for (const byte of random) {
      value = (value << 8) | byte;
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        out += CROCKFORD[(value >> bits) & 31];
      }
      value &= (1 << bits) - 1;
    }
    return time + out;
  };
}

/** The ULIDs of the wall clock (every id but the activity log's). */
export const ulid = ulidGenerator();

/** Prefixed, time-sortable id (`key_01J…`): ordering by id is ordering by creation. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}
