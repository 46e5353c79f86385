import { missingPermission } from '../../shared/errors.js';
import type { Grants } from './permission.model.js';

/** Throws FORBIDDEN naming the permission when the grants lack it. */
export function assertGranted(grants: Grants, permission: string): void {
  if (!grants.has(permission)) throw missingPermission([permission]);
}
