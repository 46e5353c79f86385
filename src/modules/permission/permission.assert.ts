import { missingPermission } from '../../shared/errors.js';
import { type Grants, missingFor, type Requirement, satisfies } from './permission.model.js';

/** Throws FORBIDDEN naming the missing permissions when the grants do not satisfy the requirement. */
export function assertGranted(grants: Grants, requirement: Requirement): void {
  if (!satisfies(grants, requirement)) throw missingPermission(missingFor(grants, requirement));
}
