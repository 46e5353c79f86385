/**
 * The upstream of the gateway rows: a small "shop" service as an operator
 * would write it (its own SDL, Federation's `@requiresScopes` on what needs
 * more than reading orders), static data, and the one document every
 * gateway row sends: nested objects and lists, three of its fields guarded.
 */

export const SHOP_SDL = /* GraphQL */ `
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM

  type Query {
    "Orders placed most recently, newest first."
    recentOrders(first: Int = 10): [ShopOrder!]! @requiresScopes(scopes: [["orders:read"]])
  }

  type ShopOrder {
    id: ID!
    placedAt: String!
    total: Int!
    buyer: Buyer!
    lines: [OrderLine!]!
    "Last four digits of the card charged."
    cardLast4: String @requiresScopes(scopes: [["payments:read"]])
  }

  type Buyer {
    id: ID!
    name: String!
    "The buyer's email address."
    email: String @requiresScopes(scopes: [["buyers:read"]])
  }

  type OrderLine {
    sku: String!
    quantity: Int!
    unitPrice: Int!
    product: Product!
  }

  type Product {
    id: ID!
    name: String!
  }
`;

/** What the scoped key of the Keygate gateway row holds: everything the document reads. */
export const SHOP_SCOPES = ['orders:read', 'payments:read', 'buyers:read'];

/** Ten orders of three lines each (about 3 KB of JSON per answer). */
export const SHOP_QUERY = /* GraphQL */ `
  query RecentOrders {
    recentOrders(first: 10) {
      id
      placedAt
      total
      cardLast4
      buyer { id name email }
      lines { sku quantity unitPrice product { id name } }
    }
  }
`;

const products = Array.from({ length: 5 }, (_, i) => ({ id: `prod_${i}`, name: `Product ${i}` }));

export const SHOP_ORDERS = Array.from({ length: 20 }, (_, i) => ({
  id: `ord_${i}`,
  placedAt: new Date(Date.UTC(2026, 0, 1, 12, i)).toISOString(),
  total: 1000 + i * 7,
  cardLast4: String(4242 + i).slice(-4),
  buyer: { id: `buyer_${i % 7}`, name: `Buyer ${i % 7}`, email: `buyer${i % 7}@example.test` },
  lines: Array.from({ length: 3 }, (_, j) => ({
    sku: `sku_${i}_${j}`,
    quantity: j + 1,
    unitPrice: 250 + j * 100,
    product: products[(i + j) % products.length]!,
  })),
}));
