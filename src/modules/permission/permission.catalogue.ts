/**
 * The permission catalogue: the single source of truth for what a key or user
 * may do. Scope checks (scope-auth), the `@requiresScopes` directives printed in
 * schema.graphql, the `permissions` query, scope validation and the
 * no-escalation rule are all derived from this file.
 *
 * The built-in catalogue is typed: `Permission` is derived from it, so a
 * misspelt permission in a field guard or a service check is a compile error.
 * Upstream services add permissions at run time (SPEC §9): those are plain
 * strings in a `PermissionCatalogue`'s extension, checked by the same model.
 */

export type PermissionAccess = 'READ' | 'WRITE';

export interface PermissionDefinition {
  readonly name: string;
  readonly resource: string;
  readonly access: PermissionAccess;
  readonly description: string;
}

/** Assignable built-in permissions, in display order. The full access key holds all of them, always. */
const BUILT_IN = [
  { name: 'customers:read', resource: 'customers', access: 'READ', description: 'Read customers, including email and metadata.' },
  { name: 'customers:write', resource: 'customers', access: 'WRITE', description: 'Create and update customers.' },
  { name: 'subscriptions:read', resource: 'subscriptions', access: 'READ', description: 'Read subscriptions.' },
  { name: 'subscriptions:write', resource: 'subscriptions', access: 'WRITE', description: 'Create and cancel subscriptions.' },
  { name: 'coupons:read', resource: 'coupons', access: 'READ', description: 'Read coupons.' },
  { name: 'coupons:write', resource: 'coupons', access: 'WRITE', description: 'Create coupons.' },
  {
    name: 'api_keys:read',
    resource: 'api_keys',
    access: 'READ',
    description: 'List API keys (masked) and read their audit logs.',
  },
  {
    name: 'api_keys:write',
    resource: 'api_keys',
    access: 'WRITE',
    description: 'Create, rotate, re-scope, revoke and reveal API keys whose scope is within your own.',
  },
  { name: 'activity:read', resource: 'activity', access: 'READ', description: "Read the environment's activity log." },
  { name: 'event_queue:read', resource: 'event_queue', access: 'READ', description: 'Read the event queue.' },
  {
    name: 'webhooks:read',
    resource: 'webhooks',
    access: 'READ',
    description: "List the environment's webhook endpoints and their deliveries (payloads name keys, masked).",
  },
  {
    name: 'webhooks:write',
    resource: 'webhooks',
    access: 'WRITE',
    description: 'Create, change, delete and test webhook endpoints, rotate their signing secrets and redeliver events.',
  },
] as const satisfies readonly PermissionDefinition[];

/** A permission of the built-in catalogue. */
export type CataloguePermission = (typeof BUILT_IN)[number]['name'];

/**
 * Client-safe reads held by the publishable key (SPEC §5). They are not
 * assignable; every `:read` of the same resource implies them.
 */
const CLIENT_READS = ['customers:read_public', 'subscriptions:read_public'] as const;
export type ClientPermission = (typeof CLIENT_READS)[number];

/**
 * Capabilities beyond the catalogue: reading environments (every credential
 * but the publishable key); environment settings, the signing secret and
 * integrations (the full access key and owners); and account-level
 * administration (owners' sessions alone).
 */
const CAPABILITY_NAMES = ['environment:read', 'environment:manage', 'account:manage'] as const;
export type Capability = (typeof CAPABILITY_NAMES)[number];

/** Every permission Keygate's own schema names. */
export type Permission = CataloguePermission | ClientPermission | Capability;

export const CLIENT_PERMISSIONS: readonly ClientPermission[] = CLIENT_READS;
export const CAPABILITIES: readonly Capability[] = CAPABILITY_NAMES;

/** `api_keys:read` → `apiKeysRead`. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
type PermissionKey<S extends string> = S extends `${infer Resource}:${infer Action}`
  ? `${CamelCase<Resource>}${Capitalize<CamelCase<Action>>}`
  : never;

const camelCase = (s: string) => s.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
const permissionKey = (name: string) => {
  const [resource, action] = name.split(':') as [string, string];
  const a = camelCase(action);
  return `${camelCase(resource)}${a.charAt(0).toUpperCase()}${a.slice(1)}`;
};

/** Shorthand for guards, derived from the names: `P.customersRead`, `P.customersReadPublic`, `P.environmentManage`… */
export const P = Object.fromEntries(
  [...BUILT_IN.map((p) => p.name), ...CLIENT_READS, ...CAPABILITY_NAMES].map((name) => [permissionKey(name), name]),
) as { readonly [N in Permission as PermissionKey<N>]: N };

/**
 * A catalogue as it stands: the built-in permissions plus those upstream
 * services declare (SPEC §9). Immutable; a reload builds a new one.
 */
export class PermissionCatalogue {
  /** Assignable permissions, in display order: the built-in ones first. */
  readonly definitions: readonly PermissionDefinition[];
  readonly names: readonly string[];
  /** `<resource>:read_public` names: the publishable key's scope, implied by `<resource>:read`. */
  readonly publicReads: readonly string[];
  /** The permissions upstream services add: every member holds them (SPEC §9). */
  readonly extensionNames: readonly string[];
  readonly #names: ReadonlySet<string>;
  readonly #publicReads: ReadonlySet<string>;

  constructor(extension: readonly PermissionDefinition[] = [], extensionPublicReads: readonly string[] = []) {
    this.definitions = [...BUILT_IN, ...extension];
    this.extensionNames = extension.map((p) => p.name);
    this.names = this.definitions.map((p) => p.name);
    this.#names = new Set(this.names);
    this.publicReads = [...new Set([...CLIENT_READS, ...extensionPublicReads])];
    this.#publicReads = new Set(this.publicReads);
  }

  /** Whether a name can be given to a scoped key. */
  has(name: string): boolean {
    return this.#names.has(name);
  }

  isPublicRead(name: string): boolean {
    return this.#publicReads.has(name);
  }

  /** The assignable permissions of a set, in display order. */
  inOrder(permissions: ReadonlySet<string>): string[] {
    return this.names.filter((name) => permissions.has(name));
  }
}

/** The catalogue of Keygate's own schema, with no upstream services. */
export const BUILT_IN_CATALOGUE = new PermissionCatalogue();

/** The built-in catalogue's names, typed. */
export const CATALOGUE_NAMES: readonly CataloguePermission[] = BUILT_IN.map((p) => p.name);
