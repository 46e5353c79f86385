import { jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../../shared/clock.js';

const ALGORITHM = 'HS256';
const ISSUER = 'keygate';

/** Mints and verifies user session tokens: HS256 JWTs with `sub` = user id and a required `exp`. */
export class SessionTokens {
  constructor(
    private readonly secret: Uint8Array,
    private readonly clock: Clock,
  ) {}

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

  /** The user id, or null for anything that does not verify (bad signature, `alg: none`, expired, no `exp`). */
  async verify(token: string): Promise<string | null> {
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
}
