import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../database/database.js';
import { type Clock, SECOND } from '../../shared/clock.js';
import { deleteIdentityKeysSeenBefore, listIdentityKeysSeenSince, upsertIdentityKey } from './identity.repository.js';

/** Identity tokens live at most this long (SPEC §9: at most 60 s after issue). */
export const IDENTITY_TOKEN_TTL_SECONDS = 60;
/** How often an instance renews its key's entry in the shared key list. */
const RENEW_EVERY_MS = 30 * SECOND;
/** A key leaves the JWKS once no instance has renewed it for this long: every token it signed has expired by then. */
const RETIRE_AFTER_MS = IDENTITY_TOKEN_TTL_SECONDS * SECOND + 2 * RENEW_EVERY_MS;
/** How long the JWKS is served from memory before the shared key list is read again. */
const JWKS_CACHE_MS = 5 * SECOND;

/** The claims of one identity token (SPEC §9), without the registered ones Keygate sets itself. */
export interface IdentityClaims {
  sub: string;
  jti: string;
  kg_principal: 'api_key' | 'user';
  kg_account: string;
  kg_environment: string;
  kg_key_type?: string;
  kg_role?: string;
  kg_scopes: string[];
  kg_customer?: string;
}

/**
 * The signing key: `KEYGATE_IDENTITY_KEY` (a PKCS#8 PEM, Ed25519 or P-256),
 * or outside production one generated once into the data directory.
 */
export function loadIdentityKey(options: {
  pem: string | null;
  dataDir: string;
  production: boolean;
  notices: string[];
}): KeyObject {
  if (options.pem) return parseIdentityKey(options.pem);
  if (options.production)
    throw new Error('KEYGATE_IDENTITY_KEY is required when NODE_ENV=production and upstreams are configured.');
  const file = path.join(options.dataDir, 'keygate_identity_key.pem');
  if (!fs.existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    fs.mkdirSync(options.dataDir, { recursive: true });
    fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    options.notices.push(
      `KEYGATE_IDENTITY_KEY not set: generated an Ed25519 identity key into ${file} (0600). Set KEYGATE_IDENTITY_KEY in production.`,
    );
  }
  return parseIdentityKey(fs.readFileSync(file, 'utf8'));
}

/** A PKCS#8 PEM private key usable for EdDSA (Ed25519) or ES256 (P-256). */
export function parseIdentityKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('KEYGATE_IDENTITY_KEY must be a PKCS#8 PEM private key (Ed25519 or P-256).');
  }
  algorithmOf(key);
  return key;
}

function algorithmOf(key: KeyObject): 'EdDSA' | 'ES256' {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error('KEYGATE_IDENTITY_KEY must be an Ed25519 or P-256 (ES256) key.');
}

/**
 * Signs the identity tokens upstreams receive and serves the public keys
 * that verify them. The key list is shared through the database, so the
 * JWKS any instance serves verifies tokens from every instance, and a
 * replaced key stays listed until every token it signed has expired.
 */
export class IdentityTokens {
  readonly algorithm: 'EdDSA' | 'ES256';
  #kid = '';
  /** The token's protected header, encoded once: it names the algorithm and this instance's key. */
  #header = '';
  #publicJwk: JWK = {};
  #jwks: { keys: JWK[] } | null = null;
  #jwksReadAt = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly key: KeyObject,
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly issuer: string,
    private readonly logger: Logger,
  ) {
    this.algorithm = algorithmOf(key);
  }

  get kid(): string {
    return this.#kid;
  }

  /** Registers this instance's key and keeps renewing it while the process runs. */
  async start(): Promise<void> {
    const jwk = await exportJWK(createPublicKey(this.key));
    this.#kid = await calculateJwkThumbprint(jwk);
    this.#publicJwk = { ...jwk, kid: this.#kid, alg: this.algorithm, use: 'sig' };
    this.#header = base64url(JSON.stringify({ alg: this.algorithm, kid: this.#kid, typ: 'JWT' }));
    await this.renew();
    this.#timer = setInterval(() => {
      this.renew().catch((err) => this.logger.warn({ err }, 'could not renew the identity key; retrying'));
    }, RENEW_EVERY_MS);
    this.#timer.unref();
  }

  private async renew(): Promise<void> {
    const now = this.clock.now();
    await upsertIdentityKey(this.db, this.#kid, JSON.stringify(this.#publicJwk), now.toISOString());
    await deleteIdentityKeysSeenBefore(this.db, new Date(now.getTime() - 30 * 24 * 3600 * SECOND).toISOString());
  }

  /**
   * A token for one upstream request: a compact JWS (RFC 7515) signed with
   * Node's one-shot `crypto.sign`. jose (which makes the JWKS, and which the
   * tests and the example upstream verify these tokens with) signs only
   * through WebCrypto, whose asynchronous job costs about ten times the
   * signature itself; one token per upstream request made it the largest
   * cost of a gateway request (README "Performance").
   */
  sign(audience: string, claims: IdentityClaims): string {
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    const payload = { ...claims, iss: this.issuer, aud: audience, iat, exp: iat + IDENTITY_TOKEN_TTL_SECONDS };
    const input = `${this.#header}.${base64url(JSON.stringify(payload))}`;
    const signature =
      this.algorithm === 'EdDSA'
        ? sign(null, Buffer.from(input), this.key)
        : // JWS wants ES256's signature as r ‖ s (IEEE P1363), not DER.
          sign('sha256', Buffer.from(input), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }

  /** `GET /.well-known/jwks.json`: every key whose tokens may still be valid, this instance's first. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const now = this.clock.now().getTime();
    if (this.#jwks && now - this.#jwksReadAt < JWKS_CACHE_MS) return this.#jwks;
    const shared = await listIdentityKeysSeenSince(this.db, new Date(now - RETIRE_AFTER_MS).toISOString());
    const keys = [this.#publicJwk, ...shared.map((text) => JSON.parse(text) as JWK).filter((k) => k.kid !== this.#kid)];
    this.#jwks = { keys };
    this.#jwksReadAt = now;
    return this.#jwks;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

const base64url = (text: string): string => Buffer.from(text).toString('base64url');
