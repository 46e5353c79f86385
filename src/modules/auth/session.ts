import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../../shared/clock.js';
import { DependencyUnavailable } from '../../shared/errors.js';

const ALGORITHM = 'HS256';
const ISSUER = 'keygate';

/** Asymmetric algorithms only: a JWKS holds public keys, which must never be used as HMAC secrets. */
const PROVIDER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** An identity provider whose tokens Keygate accepts as sessions (SPEC §2), verified against its JWKS. */
export interface IdentityProviderConfig {
  jwksUrl: string;
  /** Required `iss`, when set. */
  issuer: string | null;
  /** Required `aud`, when set. */
  audience: string | null;
  /** The claim naming the Keygate user: `sub` (a user id, the default) or `email`. */
  userClaim: 'sub' | 'email';
}

/** Who a verified session names: a Keygate user id, or (identity provider, `userClaim: email`) an email. */
export type SessionSubject = { by: 'id' | 'email'; value: string };

/** The identity provider's keys could not be fetched: the request is answered 503, not 401. */
export class IdentityProviderUnavailable extends DependencyUnavailable {
  constructor(message: string) {
    super('identity provider', message);
  }
}

/**
 * User session tokens. Keygate mints and verifies HS256 JWTs (`sub` = user id,
 * `exp` required) with KEYGATE_SESSION_SECRET; with an identity provider
 * configured, tokens signed by one of its JWKS keys are accepted as well.
 * The token's `alg` picks the verifier, and each verifier allows only its own
 * algorithms, so neither can be tricked into the other.
 */
export class SessionTokens {
  private readonly provider: { config: IdentityProviderConfig; keys: ReturnType<typeof createRemoteJWKSet> } | null;

  constructor(
    private readonly secret: Uint8Array,
    private readonly clock: Clock,
    identityProvider: IdentityProviderConfig | null = null,
  ) {
    this.provider = identityProvider && {
      config: identityProvider,
      keys: createRemoteJWKSet(new URL(identityProvider.jwksUrl), {
        timeoutDuration: 3000,
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      }),
    };
  }

  async mint(userId: string, ttlSeconds: number): Promise<string> {
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(this.secret);
  }

  /** The user id of a Keygate-minted token, or null for anything that does not verify (bad signature, `alg: none`, expired, no `exp`). */
  private async verify(token: string): Promise<string | null> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        requiredClaims: ['exp', 'sub'],
        currentDate: this.clock.now(),
      });
      return typeof payload.sub === 'string' ? payload.sub : null;
    } catch {
      return null;
    }
  }

  /**
   * Who a session token names, whoever signed it: Keygate (HS256) or the
   * identity provider (asymmetric, by JWKS). Null when it does not verify;
   * throws IdentityProviderUnavailable when the provider's keys cannot be had.
   */
  async subject(token: string): Promise<SessionSubject | null> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return null;
    }
    if (alg === ALGORITHM || !this.provider) {
      const id = await this.verify(token);
      return id === null ? null : { by: 'id', value: id };
    }
    if (!alg || !PROVIDER_ALGORITHMS.includes(alg)) return null;
    const { config, keys } = this.provider;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: PROVIDER_ALGORITHMS,
        ...(config.issuer ? { issuer: config.issuer } : {}),
        ...(config.audience ? { audience: config.audience } : {}),
        requiredClaims: ['exp', config.userClaim],
        currentDate: this.clock.now(),
      }));
    } catch (error) {
      if (isFetchFailure(error)) {
        throw new IdentityProviderUnavailable('The identity provider’s keys could not be fetched.');
      }
      return null;
    }
    const value = payload[config.userClaim];
    if (typeof value !== 'string' || value === '') return null;
    return config.userClaim === 'email' ? { by: 'email', value: value.toLowerCase() } : { by: 'id', value };
  }
}

/**
 * The JWKS endpoint failed (unreachable, timeout, not 200, not a key set), as
 * opposed to a bad token. jose raises its base JOSEError only for the
 * response of the endpoint; fetch itself raises a TypeError.
 */
function isFetchFailure(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  if (error instanceof errors.JOSEError) return error.constructor === errors.JOSEError;
  return error instanceof TypeError;
}
