/** A public key of the identity tokens, as JWK text, and when an instance last signed with it. */
export interface IdentityKeyTable {
  kid: string;
  public_jwk: string;
  created_at: string;
  last_seen_at: string;
}
