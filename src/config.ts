import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SQLITE_READ_QUEUE, DEFAULT_SQLITE_READERS, DEFAULT_STATEMENT_TIMEOUT_MS } from './database/connect.js';
import type { IdentityProviderConfig } from './modules/auth/session.js';
import type { RateLimitConfig } from './plugins/rate-limit.js';

/** Everything Keygate reads from its environment, parsed once. */
export interface Config {
  port: number;
  /** Interface to listen on; unset means every interface (Node's default). */
  host: string | undefined;
  databaseUrl: string;
  databasePoolSize: number;
  /** KEYGATE_STATEMENT_TIMEOUT_MS: longest a PostgreSQL statement, or a SQLite reader's read, may run (answered 503). */
  statementTimeoutMs: number;
  /** KEYGATE_SQLITE_READERS: reader processes for a SQLite file's list and count reads (each one read-only connection). */
  sqliteReaders: number;
  /** KEYGATE_SQLITE_READ_QUEUE: reads that may wait for a SQLite reader; more are answered 503 at once. */
  sqliteReadQueue: number;
  dataDir: string;
  masterKey: Buffer;
  sessionSecret: Buffer;
  /** KEYGATE_SESSION_JWKS_URL and friends: also accept session tokens from this identity provider. */
  identityProvider: IdentityProviderConfig | null;
  logLevel: string;
  limits: OperationLimits;
  rateLimit: RateLimitConfig;
  /** KEYGATE_KEY_CACHE_TTL_MS: how long a verified key is trusted without a database read; 0 disables the cache. */
  keyCacheTtlMs: number;
  /** KEYGATE_KEY_CACHE_MB: the memory the verified-key cache may take (megabytes, fractions allowed); 0 disables it. */
  keyCacheMb: number;
  /** KEYGATE_REDIS_URL: share rate limits between instances through this Redis; null keeps them per instance. */
  redisUrl: string | null;
  /** KEYGATE_REDIS_PREFIX: prepended to every Redis key (default `keygate:`). */
  redisPrefix: string;
  /** KEYGATE_METRICS_TOKEN: when set, `/metrics` answers only `Authorization: Bearer <token>`. */
  metricsToken: string | null;
  /** KEYGATE_HEAP_GROWTH_PERCENT: see `tuneHeap` in shared/heap.ts; 0 keeps V8's own heap growth. */
  heapGrowthPercent: number;
  /** KEYGATE_UPSTREAMS: the JSON file naming the GraphQL services behind Keygate (SPEC §9); null for none. */
  upstreamsFile: string | null;
  /** KEYGATE_IDENTITY_KEY: the PKCS#8 PEM signing identity tokens for upstreams (generated outside production). */
  identityKeyPem: string | null;
  /** KEYGATE_ISSUER: `iss` of identity tokens (default `keygate`). */
  issuer: string;
  /** Whether NODE_ENV is production (secrets must then be given, not generated). */
  production: boolean;
  /** Notes for the operator about generated development secrets (never the secrets). */
  notices: string[];
  /** KEYGATE_ACTIVITY_RETENTION_DAYS: days of activity every plan keeps; null keeps each plan's own (7/30/90). */
  activityRetentionDays: number | null;
  /** KEYGATE_WEBHOOK_ALLOW_PRIVATE: webhooks may use http:// and private addresses (development and tests; SPEC §10). */
  webhookAllowPrivate: boolean;
  /** KEYGATE_WEBHOOK_RETRY_SCHEDULE: seconds to wait before each retry of a failed delivery, in order (SPEC §10). */
  webhookRetryScheduleSeconds: number[];
}

type Env = Record<string, string | undefined>;

/**
 * How long a verified key is trusted without a database read. Every change
 * reaches every instance at once (NOTIFY; the cache is bypassed while that
 * connection is down), so this only bounds what nothing announces, such as an
 * operator editing rows by hand.
 */
export const DEFAULT_KEY_CACHE_TTL_MS = 15 * 60_000;
/** About 85,000 keys with short names and common scopes (see `estimateEntryBytes`); fewer with long names or scopes of their own. */
export const DEFAULT_KEY_CACHE_MB = 64;

function decodeKey(name: string, value: string): Buffer {
  const bytes = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (bytes.length !== 32) throw new Error(`${name} must be 32 bytes, hex (64 characters) or base64.`);
  return bytes;
}

/**
 * A secret from the environment or, outside production, one generated once
 * into the data directory with 0600 permissions.
 */
function secretFromEnvOrFile(env: Env, name: string, dataDir: string, notices: string[]): Buffer {
  const value = env[name];
  if (value) return decodeKey(name, value);
  if (env.NODE_ENV === 'production') throw new Error(`${name} is required when NODE_ENV=production.`);
  const file = path.join(dataDir, `${name.toLowerCase()}`);
  if (fs.existsSync(file)) return decodeKey(name, fs.readFileSync(file, 'utf8').trim());
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  notices.push(`${name} not set: generated a development key into ${file} (0600). Set ${name} in production.`);
  return decodeKey(name, fs.readFileSync(file, 'utf8').trim());
}

export function loadConfig(env: Env = process.env): Config {
  const notices: string[] = [];
  if (env.NODE_ENV === 'production' && !env.KEYGATE_METRICS_TOKEN)
    notices.push('KEYGATE_METRICS_TOKEN not set: /metrics is open to anyone who can reach Keygate.');
  const dataDir = path.resolve(env.KEYGATE_DATA_DIR ?? 'data');
  const port = Number(env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${env.PORT}.`);
  return {
    port,
    host: env.HOST || undefined,
    databaseUrl: env.DATABASE_URL || `file:${path.join(dataDir, 'keygate.db')}`,
    databasePoolSize: Number(env.DATABASE_POOL_SIZE ?? 10),
    statementTimeoutMs: positive(env, 'KEYGATE_STATEMENT_TIMEOUT_MS', DEFAULT_STATEMENT_TIMEOUT_MS),
    sqliteReaders: positive(env, 'KEYGATE_SQLITE_READERS', DEFAULT_SQLITE_READERS),
    sqliteReadQueue: whole(env, 'KEYGATE_SQLITE_READ_QUEUE', DEFAULT_SQLITE_READ_QUEUE),
    dataDir,
    masterKey: secretFromEnvOrFile(env, 'KEYGATE_MASTER_KEY', dataDir, notices),
    sessionSecret: secretFromEnvOrFile(env, 'KEYGATE_SESSION_SECRET', dataDir, notices),
    identityProvider: parseIdentityProvider(env),
    logLevel: env.LOG_LEVEL ?? 'info',
    keyCacheTtlMs: whole(env, 'KEYGATE_KEY_CACHE_TTL_MS', DEFAULT_KEY_CACHE_TTL_MS),
    keyCacheMb: megabytes(env, 'KEYGATE_KEY_CACHE_MB', DEFAULT_KEY_CACHE_MB),
    limits: parseLimits(env),
    rateLimit: parseRateLimit(env),
    heapGrowthPercent: parseHeapGrowthPercent(env),
    metricsToken: env.KEYGATE_METRICS_TOKEN || null,
    redisUrl: env.KEYGATE_REDIS_URL || null,
    redisPrefix: env.KEYGATE_REDIS_PREFIX || 'keygate:',
    upstreamsFile: env.KEYGATE_UPSTREAMS ? path.resolve(env.KEYGATE_UPSTREAMS) : null,
    identityKeyPem: env.KEYGATE_IDENTITY_KEY?.trim() || null,
    issuer: env.KEYGATE_ISSUER || 'keygate',
    production: env.NODE_ENV === 'production',
    notices,
    activityRetentionDays: parseRetentionDays(env),
    webhookAllowPrivate: flag(env, 'KEYGATE_WEBHOOK_ALLOW_PRIVATE'),
    webhookRetryScheduleSeconds: parseRetrySchedule(env),
  };
}

/** SPEC §10's retries: after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; then the delivery is FAILED. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];

/** Longest retry schedule and wait accepted: a delivery's life stays bounded (20 retries of at most a week). */
const MAX_RETRIES = 20;
const MAX_RETRY_WAIT_SECONDS = 7 * 24 * 3600;

/** `KEYGATE_WEBHOOK_RETRY_SCHEDULE=5,300,1800`: whole seconds before each retry, comma-separated (unset or empty: SPEC §10's). */
export function parseRetrySchedule(env: Env = {}): number[] {
  const raw = env.KEYGATE_WEBHOOK_RETRY_SCHEDULE;
  if (raw === undefined || raw.trim() === '') return [...DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS];
  const parts = raw.split(',').map((p) => p.trim());
  const bad = parts.find((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > MAX_RETRY_WAIT_SECONDS);
  if (bad !== undefined || parts.length > MAX_RETRIES)
    throw new Error(
      `KEYGATE_WEBHOOK_RETRY_SCHEDULE must be at most ${MAX_RETRIES} whole numbers of seconds from 1 to ${MAX_RETRY_WAIT_SECONDS}, comma-separated, got "${raw}".`,
    );
  return parts.map(Number);
}

function parseRetentionDays(env: Env): number | null {
  const value = env.KEYGATE_ACTIVITY_RETENTION_DAYS;
  if (value === undefined || value === '') return null;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new Error(`KEYGATE_ACTIVITY_RETENTION_DAYS must be a whole number of days from 1 to 3650, got ${value}.`);
  return days;
}

/** `KEYGATE_SESSION_JWKS_URL` (https, or http on loopback), `_ISSUER`, `_AUDIENCE`, `_USER_CLAIM` (sub | email). */
export function parseIdentityProvider(env: Env = {}): IdentityProviderConfig | null {
  const jwksUrl = env.KEYGATE_SESSION_JWKS_URL;
  if (!jwksUrl) return null;
  let url: URL;
  try {
    url = new URL(jwksUrl);
  } catch {
    throw new Error(`KEYGATE_SESSION_JWKS_URL must be a URL, got "${jwksUrl}".`);
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new Error('KEYGATE_SESSION_JWKS_URL must use https (plain http only on a loopback address).');
  const userClaim = env.KEYGATE_SESSION_USER_CLAIM || 'sub';
  if (userClaim !== 'sub' && userClaim !== 'email')
    throw new Error(`KEYGATE_SESSION_USER_CLAIM must be sub or email, got "${userClaim}".`);
  return {
    jwksUrl: url.toString(),
    issuer: env.KEYGATE_SESSION_ISSUER || null,
    audience: env.KEYGATE_SESSION_AUDIENCE || null,
    userClaim,
  };
}

export function parseHeapGrowthPercent(env: Env = {}): number {
  return whole(env, 'KEYGATE_HEAP_GROWTH_PERCENT', 40);
}

/** Limits on what one request may ask (README "Limits"). */
export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
  maxBodyBytes: number;
}

function whole(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got "${raw}".`);
  return value;
}

function positive(env: Env, name: string, fallback: number): number {
  const value = whole(env, name, fallback);
  if (value === 0) throw new Error(`${name} must be at least 1, got "${env[name]}".`);
  return value;
}

function megabytes(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of megabytes, got "${raw}".`);
  return value;
}

function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new Error(`${name} must be true or false, got "${env[name]}".`);
}

export function parseLimits(env: Env = {}): OperationLimits {
  return {
    maxDepth: whole(env, 'KEYGATE_MAX_DEPTH', 12),
    maxAliases: whole(env, 'KEYGATE_MAX_ALIASES', 30),
    maxDirectives: whole(env, 'KEYGATE_MAX_DIRECTIVES', 20),
    maxTokens: whole(env, 'KEYGATE_MAX_TOKENS', 2000),
    maxCost: whole(env, 'KEYGATE_MAX_COST', 50_000),
    maxBodyBytes: whole(env, 'KEYGATE_MAX_BODY_BYTES', 100 * 1024),
  };
}

/** `KEYGATE_RATE_LIMIT_OVERRIDES=key_A=500,key_B=0`: requests per second for those keys (0 = unlimited). */
export function parseRateLimit(env: Env = {}): RateLimitConfig {
  const overrides = new Map<string, number>();
  for (const pair of (env.KEYGATE_RATE_LIMIT_OVERRIDES ?? '').split(',').filter(Boolean)) {
    const [id, rate] = pair.split('=');
    if (!id || rate === undefined || !/^\d+$/.test(rate.trim()))
      throw new Error(`KEYGATE_RATE_LIMIT_OVERRIDES: "${pair}" is not key_id=requests_per_second.`);
    overrides.set(id.trim(), Number(rate));
  }
  return {
    perKey: whole(env, 'KEYGATE_RATE_LIMIT', 100),
    overrides,
    failedAuthPerMinute: whole(env, 'KEYGATE_FAILED_AUTH_LIMIT', 30),
    limitLoopback: flag(env, 'KEYGATE_FAILED_AUTH_LIMIT_LOOPBACK'),
  };
}
