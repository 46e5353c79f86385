/**
 * The permission catalogue: the single source of truth for what a key or user
 * may do. Scope checks (scope-auth), the `@requiresScopes` directives printed in
 * schema.graphql, the `permissions` query, scope validation and the
 * no-escalation rule are all derived from this file.
 */

export type PermissionAccess = 'READ' | 'WRITE';

export interface PermissionDefinition {
  name: string;
  resource: string;
  access: PermissionAccess;
  description: string;
}

function resource(name: string, read: string, write: string): PermissionDefinition[] {
  return [
    { name: `${name}:read`, resource: name, access: 'READ', description: read },
    { name: `${name}:write`, resource: name, access: 'WRITE', description: write },
  ];
}

/** Assignable permissions, in display order. The full access key holds all of them, always. */
export const CATALOGUE: readonly PermissionDefinition[] = [
  ...resource('customers', 'Read customers, including email and metadata.', 'Create and update customers.'),
  ...resource('subscriptions', 'Read subscriptions.', 'Create and cancel subscriptions.'),
  ...resource('coupons', 'Read coupons.', 'Create coupons.'),
  ...resource(
    'api_keys',
    'List API keys (masked) and read their audit logs.',
    'Create, rotate, re-scope, revoke and reveal API keys whose scope is within your own.',
  ),
  { name: 'activity:read', resource: 'activity', access: 'READ', description: "Read the environment's activity log." },
  { name: 'event_queue:read', resource: 'event_queue', access: 'READ', description: 'Read the event queue.' },
];

export const CATALOGUE_NAMES: readonly string[] = CATALOGUE.map((p) => p.name);
const CATALOGUE_SET: ReadonlySet<string> = new Set(CATALOGUE_NAMES);

export function isCataloguePermission(name: string): boolean {
  return CATALOGUE_SET.has(name);
}

/**
 * Client-safe reads held by the publishable key (SPEC §5). They are not
 * assignable; every `:read` of the same resource implies them.
 */
export const CLIENT_PERMISSIONS = {
  customersPublic: 'customers:read_public',
  subscriptionsPublic: 'subscriptions:read_public',
} as const;

/**
 * Capabilities beyond the catalogue: reading environments (every credential
 * but the publishable key); environment settings, the signing secret and
 * integrations (the full access key and owners); and account-level
 * administration (owners' sessions alone).
 */
export const CAPABILITIES = {
  /** Reading environments (`environments`, `environment`): every credential but the publishable key (SPEC §5). */
  readEnvironment: 'environment:read',
  manageEnvironment: 'environment:manage',
  manageAccount: 'account:manage',
} as const;

/** Shorthand for field guards: `P.customersRead` etc. */
export const P = {
  customersRead: 'customers:read',
  customersWrite: 'customers:write',
  subscriptionsRead: 'subscriptions:read',
  subscriptionsWrite: 'subscriptions:write',
  couponsRead: 'coupons:read',
  couponsWrite: 'coupons:write',
  apiKeysRead: 'api_keys:read',
  apiKeysWrite: 'api_keys:write',
  activityRead: 'activity:read',
  eventQueueRead: 'event_queue:read',
  ...CLIENT_PERMISSIONS,
  ...CAPABILITIES,
} as const;
