/**
 * When a key counts as "in use" (SPEC §10): it authenticated a request in the
 * last 15 minutes, so a service still holds its secret. Dependency-free, so
 * the console shows an expiring key's "still in use" by the rule the
 * `api_key.expiring` / `api_key.expired` webhooks state in `inUse`.
 */
export const IN_USE_WINDOW_MS = 15 * 60 * 1000;

/** Whether a key last used at `lastUsedAt` (ISO, or null if never) is in use at `at`. */
export function isKeyInUse(lastUsedAt: string | null, at: Date): boolean {
  return lastUsedAt !== null && at.getTime() - new Date(lastUsedAt).getTime() <= IN_USE_WINDOW_MS;
}
