import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getDirectiveValues,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Credential, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * Directives and enforcement cannot drift: for every field carrying
 * `@requiresScopes` in the committed schema.graphql (on the field or on its
 * type), a caller holding exactly what the printed directives say is allowed,
 * and a caller that can reach the field's parent but lacks the field's scopes
 * is denied with FORBIDDEN on that field. Requirements come from the printed
 * schema only, never from the code under test.
 */
const printed: GraphQLSchema = buildSchema(readFileSync(path.resolve(import.meta.dirname, '../../schema.graphql'), 'utf8'));
const requiresScopes = printed.getDirective('requiresScopes')!;

type Requirement = string[][];

function directiveOf(node: {
  astNode?: GraphQLField<unknown, unknown>['astNode'] | GraphQLObjectType['astNode'] | null;
}): Requirement | null {
  if (!node.astNode) return null;
  const values = getDirectiveValues(requiresScopes, node.astNode as never);
  return values ? (values.scopes as Requirement) : null;
}

/** Requirements of a field: its own and its type's (AND-ed). */
function requirementsOf(type: GraphQLObjectType, field: GraphQLField<unknown, unknown>): Requirement[] {
  return [directiveOf(type), directiveOf(field)].filter((r): r is Requirement => r !== null);
}

/** Placeholder argument values that pass GraphQL validation. */
function placeholder(type: GraphQLInputType): string {
  if (isNonNullType(type)) return placeholder(type.ofType);
  if (isListType(type)) return `[${placeholder(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return `{ ${fields.map((f) => `${f.name}: ${placeholder(f.type)}`).join(', ')} }`;
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int':
        return '10';
      case 'Boolean':
        return 'false';
      case 'ID':
        return '"key_00000000000000000000000000"';
      default:
        return '"placeholder"';
    }
  }
  throw new Error(`no placeholder for ${String(type)}`);
}

function callOf(field: GraphQLField<unknown, unknown>): string {
  const required = field.args.filter((a: GraphQLArgument) => isNonNullType(a.type));
  const args = required.length ? `(${required.map((a) => `${a.name}: ${placeholder(a.type)}`).join(', ')})` : '';
  const named: GraphQLNamedType = getNamedType(field.type);
  return `${field.name}${args}${isObjectType(named) || 'getFields' in named ? ' { __typename }' : ''}`;
}

/** How to reach an object of each guarded type from Query, with the path to the object. */
const ROUTES: Record<
  string,
  { variables?: string; wrap: (inner: string) => string; path: (string | number)[]; parents: [string, string][] }
> = {
  Environment: {
    variables: '($env: ID!)',
    wrap: (i) => `environment(id: $env) { ${i} }`,
    path: ['environment'],
    parents: [['Query', 'environment']],
  },
  // Reached through the activity log, so a caller without api_keys:read can reach it too (SPEC §4).
  ApiKey: {
    variables: '($key: ID!)',
    wrap: (i) => `activity(filter: { apiKeyId: $key }, first: 1) { edges { node { apiKey { ${i} } } } }`,
    path: ['activity', 'edges', 0, 'node', 'apiKey'],
    parents: [
      ['Query', 'activity'],
      ['ActivityEvent', 'apiKey'],
    ],
  },
  Customer: { wrap: (i) => `customer(customerId: "walk-1") { ${i} }`, path: ['customer'], parents: [['Query', 'customer']] },
  Subscription: {
    wrap: (i) => `customer(customerId: "walk-1") { subscriptions { ${i} } }`,
    path: ['customer', 'subscriptions', 0],
    parents: [
      ['Query', 'customer'],
      ['Customer', 'subscriptions'],
    ],
  },
  Coupon: {
    wrap: (i) => `coupons { edges { node { ${i} } } }`,
    path: ['coupons', 'edges', 0, 'node'],
    parents: [['Query', 'coupons']],
  },
};

interface Case {
  coordinate: string;
  operation: 'query' | 'mutation';
  document: string;
  path: (string | number)[];
  needs: Requirement[];
  parentNeeds: Requirement[];
}

function fieldOf(typeName: string, fieldName: string) {
  const type = printed.getType(typeName) as GraphQLObjectType;
  return { type, field: type.getFields()[fieldName]! };
}

function collectCases(): Case[] {
  const cases: Case[] = [];
  for (const root of ['Query', 'Mutation'] as const) {
    const type = printed.getType(root) as GraphQLObjectType;
    for (const field of Object.values(type.getFields())) {
      const needs = requirementsOf(type, field);
      if (!needs.length) continue;
      cases.push({
        coordinate: `${root}.${field.name}`,
        operation: root === 'Query' ? 'query' : 'mutation',
        document: `${root === 'Query' ? 'query' : 'mutation'} { ${callOf(field)} }`,
        path: [field.name],
        needs,
        parentNeeds: [],
      });
    }
  }
  for (const [typeName, route] of Object.entries(ROUTES)) {
    const type = printed.getType(typeName) as GraphQLObjectType;
    for (const field of Object.values(type.getFields())) {
      const needs = requirementsOf(type, field);
      if (!needs.length) continue;
      const parentNeeds = route.parents.flatMap(([t, f]) =>
        requirementsOf(...(Object.values(fieldOf(t, f)) as [GraphQLObjectType, GraphQLField<unknown, unknown>])),
      );
      cases.push({
        coordinate: `${typeName}.${field.name}`,
        operation: 'query',
        document: `query${route.variables ?? ''} { ${route.wrap(`id ${callOf(field)}`.replace(/^id id/, 'id'))} }`,
        path: [...route.path, field.name],
        needs,
        parentNeeds,
      });
    }
  }
  return cases;
}

const PUBLIC_ONLY = new Set(['customers:read_public', 'subscriptions:read_public']);

let t: TestKeygate;
let tenant: Tenant;
/** The ApiKey route's target: within the scope of any key holding api_keys:write (no-escalation stays out of the way), and in the activity log. */
let targetKeyId: string;
beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
  const targetKey = await tenant.scopedKey(['api_keys:read']);
  targetKeyId = targetKey.row.id;
  // One call by the target key puts it in the activity log, the ApiKey route's way in.
  await t.query('{ viewer { kind } }', {}, { key: targetKey.secret });
  await t.keygate.deps.activity.flush();
  const owner = { key: tenant.dev.fullAccessKey.secret };
  await t.query(
    'mutation { createCustomer(input: { customerId: "walk-1", name: "Walker", email: "w@example.test" }) { customer { id } } }',
    {},
    owner,
  );
  await t.query(
    'mutation { createSubscription(input: { customerId: "walk-1", planId: "pro" }) { subscription { id } } }',
    {},
    owner,
  );
  await t.query('mutation { createCoupon(input: { code: "WALK", percentOff: 10 }) { coupon { id } } }', {}, owner);
});

/** Held by every credential but the publishable key: no scope grants it or takes it away. */
const SERVER_SIDE = 'environment:read';

/** A credential holding exactly `permissions` (or the narrowest that does, for capabilities). */
async function credentialHolding(permissions: string[]): Promise<Credential> {
  if (permissions.includes('account:manage')) return { token: tenant.owner.token };
  if (permissions.includes('environment:manage')) return { key: tenant.dev.fullAccessKey.secret };
  if (permissions.length && permissions.every((p) => PUBLIC_ONLY.has(p))) return { key: tenant.dev.publishableKey.secret };
  const assignable = [...new Set(permissions.filter((p) => p !== SERVER_SIDE).map((p) => p.replace(':read_public', ':read')))];
  return { key: (await tenant.scopedKey(assignable.length ? assignable : ['event_queue:read'])).secret };
}

const satisfies = (held: Set<string>, requirement: Requirement) => requirement.some((all) => all.every((p) => held.has(p)));
/** What a credential built for `permissions` holds, with implications (write ⇒ read ⇒ read_public). */
function heldBy(permissions: string[]): Set<string> {
  if (permissions.includes('environment:manage') || permissions.includes('account:manage')) return new Set(['*']);
  const held = new Set<string>();
  for (const p of permissions.map((x) => x.replace(':read_public', ':read'))) {
    held.add(p);
    if (p.endsWith(':write')) held.add(p.replace(':write', ':read'));
  }
  for (const p of [...held]) if (p === 'customers:read' || p === 'subscriptions:read') held.add(`${p}_public`);
  if (permissions.every((p) => PUBLIC_ONLY.has(p)) && permissions.length) return new Set(permissions);
  held.add(SERVER_SIDE);
  return held;
}

const forbiddenAt = (errors: readonly any[] | undefined, p: (string | number)[]) =>
  (errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN' && JSON.stringify(e.path) === JSON.stringify(p));

/** Every way to satisfy a list of requirements: one permission set per combination of alternatives. */
function combinations(requirements: Requirement[]): string[][] {
  return requirements.reduce<string[][]>(
    (sets, r) => sets.flatMap((set) => r.map((alt) => [...new Set([...set, ...alt])])),
    [[]],
  );
}

const cases = collectCases().map((c) => {
  // Root fields are reached by any credential: a narrow server key, or the publishable key.
  const parentWays = c.parentNeeds.length
    ? combinations(c.parentNeeds)
    : [c.needs.flat(2).includes('event_queue:read') ? ['activity:read'] : ['event_queue:read'], [...PUBLIC_ONLY]];
  // A caller that reaches the parent one way but lacks the field's requirement, if the route allows one.
  const denier = parentWays.find((way) => !c.needs.every((r) => satisfies(heldBy(way), r))) ?? null;
  const allowed = combinations([...c.parentNeeds, ...c.needs])[0]!;
  return {
    ...c,
    allowed,
    denier,
    title: denier
      ? `${c.coordinate}: allowed with ${JSON.stringify(allowed)}, denied with only ${JSON.stringify(denier)}`
      : `${c.coordinate}: allowed with ${JSON.stringify(allowed)} (every route to it already grants it)`,
  };
});

describe('every @requiresScopes field is enforced exactly as printed', () => {
  it('covers every guarded root field and every guarded type', () => {
    expect(cases.length).toBeGreaterThan(30);
    const guardedTypes = Object.values(printed.getTypeMap()).filter((type) => isObjectType(type) && directiveOf(type));
    for (const type of guardedTypes) expect(Object.keys(ROUTES), `no route to ${type.name}`).toContain(type.name);
  });

  for (const c of cases) {
    it(c.title, async () => {
      const variables = c.document.includes('$env')
        ? { env: tenant.dev.id }
        : c.document.includes('$key')
          ? { key: targetKeyId }
          : {};
      const allowed = await t.query(c.document, variables, await credentialHolding(c.allowed));
      expect(allowed.status).toBe(200);
      // Executed (a document that fails validation has no data at all) and nothing denied.
      expect(allowed.body, JSON.stringify(allowed.body)).toHaveProperty('data');
      expect(
        (allowed.body.errors ?? []).filter((e: any) => e.extensions?.code === 'FORBIDDEN'),
        JSON.stringify(allowed.body),
      ).toEqual([]);
      if (c.parentNeeds.length) expect(allowed.body.errors, JSON.stringify(allowed.body)).toBeUndefined();

      if (!c.denier) return;
      const denied = await t.query(c.document, variables, await credentialHolding(c.denier));
      expect(forbiddenAt(denied.body.errors, c.path), JSON.stringify(denied.body)).toHaveLength(1);
    });
  }
});
