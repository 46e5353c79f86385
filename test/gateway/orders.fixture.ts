import { decodeJwt } from 'jose';
import type { Resolvers } from '../harness/upstreams.js';

/**
 * An operator's "orders" service: its own SDL, with the Apollo Federation
 * `@requiresScopes` on what needs more than the default.
 */
export const ORDERS_SDL = /* GraphQL */ `
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM

  type Query {
    "Orders placed in the caller's environment, newest first."
    orders(first: Int = 10): [Order!]! @requiresScopes(scopes: [["orders:read"]])
    order(id: ID!): Order @requiresScopes(scopes: [["orders:read"]])
    "Shipping status a storefront may show (client-safe)."
    trackingStatus(orderId: ID!): String @requiresScopes(scopes: [["orders:read_public"]])
    "Who the orders service thinks is calling (from Keygate's identity token)."
    whoami: Identity
  }

  type Mutation {
    "Place an order."
    placeOrder(item: String!, quantity: Int!): Order! @requiresScopes(scopes: [["orders:write"]])
    "Refund an order to the card on file."
    refundOrder(id: ID!): Order @requiresScopes(scopes: [["refunds:write"]])
  }

  type Order {
    id: ID!
    item: String!
    quantity: Int!
    "Last four digits of the card on file."
    cardLast4: String @requiresScopes(scopes: [["payments:read"]])
  }

  type Identity {
    subject: String
    environment: String
    principal: String
  }
`;

export interface OrdersState {
  orders: { id: string; item: string; quantity: number; cardLast4: string }[];
}

/** Resolvers of the orders service; `whoami` reads (unverified) claims: tests verify the token themselves. */
export function ordersResolvers(state: OrdersState): Resolvers {
  return {
    Query: {
      orders: () => state.orders,
      order: (_: unknown, args: { id: string }) => state.orders.find((o) => o.id === args.id) ?? null,
      trackingStatus: () => 'IN_TRANSIT',
      whoami: (_: unknown, _args: unknown, ctx: { request?: Request }) => {
        const bearer = ctx.request?.headers.get('authorization')?.replace(/^Bearer /, '');
        if (!bearer) return null;
        const claims = decodeJwt(bearer);
        return { subject: claims.sub, environment: claims.kg_environment, principal: claims.kg_principal };
      },
    },
    Mutation: {
      placeOrder: (_: unknown, args: { item: string; quantity: number }) => {
        const order = { id: `ord_${state.orders.length + 1}`, item: args.item, quantity: args.quantity, cardLast4: '4242' };
        state.orders.unshift(order);
        return order;
      },
      refundOrder: (_: unknown, args: { id: string }) => state.orders.find((o) => o.id === args.id) ?? null,
    },
  };
}
