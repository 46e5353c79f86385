import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

/** Why a request carries no usable identity token; the message is the caller's. */
export class IdentityError extends Error {}

/** Keygate's public keys could not be read, so no token can be checked now. */
export class KeysUnavailableError extends Error {}

/**
 * Who calls, as Keygate vouches for it: Keygate signs a short-lived token for
 * every request it sends here (SPEC §9) and publishes the public keys at
 * /.well-known/jwks.json. This service trusts nothing else: not a header, not
 * a network location.
 */
export function keygateIdentity({ keygateUrl, issuer, audience }) {
  // Fetched on first use and again when a token names a key not seen yet (Keygate rotated its key).
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', keygateUrl));

  /** The verified caller of a request, from its `Authorization: Bearer <token>`. */
  return async function verify(authorization) {
    const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    if (!token) throw new IdentityError('Missing identity token: call the orders service through Keygate.');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer,
        audience,
        algorithms: ['EdDSA', 'ES256'],
        requiredClaims: ['exp', 'iat', 'sub', 'kg_account', 'kg_environment'],
        // Keygate's tokens live 60 s; a little leeway for clocks that disagree.
        maxTokenAge: '65s',
        clockTolerance: 5,
      }));
    } catch (error) {
      if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError))
        throw new KeysUnavailableError("Keygate's identity keys could not be fetched.", { cause: error });
      throw new IdentityError(`Invalid identity token: ${reasonOf(error)}`);
    }
    return {
      account: payload.kg_account,
      environment: payload.kg_environment,
      subject: payload.sub,
      principal: payload.kg_principal,
      scopes: Array.isArray(payload.kg_scopes) ? payload.kg_scopes : [],
      customerId: payload.kg_customer ?? null,
    };
  };
}

function reasonOf(error) {
  if (error instanceof errors.JWTExpired) return 'it has expired.';
  if (error instanceof errors.JWSSignatureVerificationFailed) return "its signature does not verify with Keygate's keys.";
  if (error instanceof errors.JWKSNoMatchingKey) return 'it is signed by a key Keygate does not publish.';
  if (error instanceof errors.JWTClaimValidationFailed) return `its "${error.claim}" claim is not what this service expects.`;
  return 'it is not a token Keygate signed.';
}
