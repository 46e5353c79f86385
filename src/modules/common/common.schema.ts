import type { ArgBuilder, ObjectRef } from '@pothos/core';
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { type BuilderTypes, builder } from '../../builder.js';
import { encodeCursor, type Page } from '../../shared/pagination.js';

builder.scalarType('DateTime', {
  description: 'An instant, ISO-8601 in UTC (e.g. 2026-11-28T10:48:18.000Z).',
  serialize: (value) => new Date(value as string | Date).toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string.');
    return date;
  },
  parseLiteral: (ast) => {
    const date = ast.kind === Kind.STRING ? new Date(ast.value) : null;
    // Not a GraphQLError: validation then wraps it with the value and its location in the document.
    if (!date || Number.isNaN(date.getTime())) throw new TypeError('DateTime must be an ISO-8601 string.');
    return date;
  },
});

function literalToJson(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw new GraphQLError('Unsupported JSON literal.');
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => literalToJson(ast, variables),
});

const NODE_TYPES: Record<string, string> = {
  acc: 'Account',
  usr: 'User',
  env: 'Environment',
  key: 'ApiKey',
  kae: 'KeyAuditEvent',
  act: 'ActivityEvent',
  int: 'Integration',
  cus: 'Customer',
  sub: 'Subscription',
  cpn: 'Coupon',
  whe: 'WebhookEndpoint',
  whd: 'WebhookDelivery',
};

export const NodeRef = builder.interfaceRef<{ id: string }>('Node').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
  resolveType: (node) => NODE_TYPES[node.id.slice(0, 3)] ?? null,
});

const PageInfoRef = builder.objectRef<Page<{ id: string }>>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
    startCursor: t.string({ nullable: true, resolve: (p) => (p.nodes[0] ? encodeCursor(p.nodes[0].id) : null) }),
    endCursor: t.string({ nullable: true, resolve: (p) => (p.nodes.at(-1) ? encodeCursor(p.nodes.at(-1)!.id) : null) }),
  }),
});

/** `<Name>Connection` and `<Name>Edge` over a Page of nodes, with `totalCount`. */
export function connectionType<T extends { id: string }>(name: string, node: ObjectRef<BuilderTypes, T>) {
  const Edge = builder.objectRef<{ node: T }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.string({ resolve: (e) => encodeCursor(e.node.id) }),
      node: t.expose('node', { type: node }),
    }),
  });
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [Edge], resolve: (p) => p.nodes.map((n) => ({ node: n })) }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (p) => p }),
      totalCount: t.int({ resolve: (p) => p.totalCount() }),
    }),
  });
}

/** `first`/`after` arguments shared by every connection field. */
export const pageArgs = (t: { arg: ArgBuilder<BuilderTypes> }) => ({
  first: t.arg.int({ required: false, description: 'Page size, 0 to 100 (default 20).' }),
  after: t.arg.string({ required: false, description: 'Cursor of the last edge of the previous page.' }),
});

/** An optional `ID` argument as the services take it: a string, or null when not given. */
export function optionalId(value: string | number | null | undefined): string | null {
  return value == null ? null : String(value);
}
