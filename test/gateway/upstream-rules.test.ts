import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { describe, expect, it } from 'vitest';
import { applyDefaultDeny, upstreamRules } from '../../src/modules/gateway/upstream.permissions.js';
import { buildUpstreamSchema, cleanUpstreamSdl, UpstreamSchemaError } from '../../src/modules/gateway/upstream.sdl.js';

/** The pipeline a start or reload runs on an upstream's SDL. */
function read(sdl: string, upstream = 'orders') {
  const schema = buildUpstreamSchema(upstream, applyDefaultDeny(upstream, cleanUpstreamSdl(upstream, sdl)));
  return { schema, rules: upstreamRules(upstream, schema), printed: printSchemaWithDirectives(schema) };
}

const FEDERATION_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable", "@requiresScopes"])
  directive @link(url: String, import: [link__Import]) repeatable on SCHEMA
  directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
  directive @shareable on OBJECT | FIELD_DEFINITION
  directive @requiresScopes(scopes: [[federation__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
  scalar link__Import
  scalar federation__FieldSet
  scalar federation__Scope
  enum link__Purpose { SECURITY EXECUTION }
  scalar _Any
  type _Service { sdl: String }
  union _Entity = Order
  extend type Query {
    orders: [Order!]! @requiresScopes(scopes: [["orders:read"]])
    stats: Int
    _service: _Service!
    _entities(representations: [_Any!]!): [_Entity]!
  }
  type Order @key(fields: "id") @shareable {
    id: ID!
    card: String @requiresScopes(scopes: [["payments:read"], ["orders:admin", "audit:read"]])
  }
`;

describe("an upstream's SDL as Keygate serves it", () => {
  it('drops the Federation machinery and foreign directives, keeps the auth directives, merges extend type Query', () => {
    const { schema, printed } = read(FEDERATION_SDL);
    expect(Object.keys(schema.getQueryType()!.getFields())).toEqual(['orders', 'stats']);
    for (const gone of ['_Service', '_Any', '_Entity', 'link__Import', 'federation__Scope', 'link__Purpose'])
      expect(schema.getType(gone), gone).toBeUndefined();
    expect(printed).not.toMatch(/@key|@shareable|@link/);
    expect(printed).toMatch(/card: String @requiresScopes\(scopes: \[\["payments:read"\], \["orders:admin", "audit:read"\]\]\)/);
  });

  it('writes deny-by-default into root fields that name no scope (<upstream>:read, :write for mutations)', () => {
    const { rules, printed } =
      read(`type Query { a: Int b: Guarded } type Guarded @requiresScopes(scopes: [["g:read"]]) { x: Int }
      type Mutation { m: Int }`);
    expect(printed).toMatch(/a: Int @requiresScopes\(scopes: \[\["orders:read"\]\]\)/);
    expect(printed).toMatch(/m: Int @requiresScopes\(scopes: \[\["orders:write"\]\]\)/);
    // A return type with its own rule is guarded by it instead.
    expect(rules.fields.get('Query.b')).toEqual([['g:read']]);
    expect(rules.fields.get('Query.a')).toEqual([['orders:read']]);
  });

  it('combines a field’s rule with its return type’s (both must hold)', () => {
    const { rules } = read(`type Query { o: Order @requiresScopes(scopes: [["orders:read"]]) }
      type Order @requiresScopes(scopes: [["x:read"], ["y:read"]]) { id: ID }`);
    expect(rules.fields.get('Query.o')).toEqual([
      ['orders:read', 'x:read'],
      ['orders:read', 'y:read'],
    ]);
  });

  it('guards an interface field with what its strictest implementation needs', () => {
    const { rules } = read(`type Query { items: [Item!]! @requiresScopes(scopes: [["orders:read"]]) }
      interface Item { id: ID! price: Int }
      type Plain implements Item { id: ID! price: Int }
      type Secret implements Item { id: ID! price: Int @requiresScopes(scopes: [["pricing:read"]]) }`);
    expect(rules.fields.get('Item.price')).toEqual([['pricing:read']]);
    expect(rules.fields.has('Item.id')).toBe(false);
  });

  it('lists every scope it names, with the description of the field or type that names it first', () => {
    const { rules } = read(FEDERATION_SDL);
    expect(rules.definitions.map((d) => [d.name, d.access])).toEqual([
      ['orders:read', 'READ'],
      ['payments:read', 'READ'],
      ['orders:admin', 'WRITE'],
      ['audit:read', 'READ'],
    ]);
  });

  it.each([
    [
      'a scope that is not <resource>:<action> in lower case',
      'type Query { a: Int @requiresScopes(scopes: [["Orders:Read"]]) }',
      /Orders:Read/,
    ],
    ['a scope with no action', 'type Query { a: Int @requiresScopes(scopes: [["orders"]]) }', /"orders"/],
    ['an empty inner list', 'type Query { a: Int @requiresScopes(scopes: [[]]) }', /non-empty/],
    [
      'scopes of the wrong type',
      'type Query { a: Int @requiresScopes(scopes: [[5]]) }',
      /Query\.a: @requiresScopes is malformed/,
    ],
    ['an unknown type', 'type Query { a: Nope }', /Unknown type "Nope"/],
    ['SDL that does not parse', 'type Query {', /does not parse/],
    ['no root fields at all', 'type Thing { a: Int }', /no Query or Mutation/],
  ])('refuses %s, naming the upstream and what is wrong', (_what, sdl, message) => {
    expect(() => read(sdl)).toThrow(UpstreamSchemaError);
    expect(() => read(sdl)).toThrow(message);
    expect(() => read(sdl)).toThrow(/upstream "orders"/);
  });
});
