/** What the shop sells; an order names SKUs and quantities, the service prices them. */
const PRODUCTS = new Map([
  ['MUG-01', { name: 'Keygate mug', unitPriceCents: 1200 }],
  ['TEE-02', { name: 'Keygate T-shirt', unitPriceCents: 2500 }],
  ['CAP-03', { name: 'Keygate cap', unitPriceCents: 1800 }],
]);

/** Bounds, so a long-running demo never grows without end. */
const MAX_ENVIRONMENTS = 1000;
const MAX_ORDERS_PER_ENVIRONMENT = 500;
const MAX_LINE_ITEMS = 50;

/** A caller's mistake, answered as a GraphQL error with a code (Keygate passes it on with extensions.upstream). */
export class OrderInputError extends Error {}

function lineItem(sku, quantity) {
  const product = PRODUCTS.get(sku);
  if (!product) throw new OrderInputError(`Unknown SKU ${sku}; known: ${[...PRODUCTS.keys()].join(', ')}.`);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 100)
    throw new OrderInputError(`Quantity of ${sku} must be 1 to 100.`);
  return { sku, name: product.name, quantity, unitPriceCents: product.unitPriceCents };
}

function order(id, fields) {
  const lineItems = fields.lineItems;
  return { id, ...fields, totalCents: lineItems.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0) };
}

/** Every environment starts with the same two orders, so a first query has something to show. */
function sampleOrders() {
  return [
    order('ord_2', {
      placedAt: '2026-05-02T09:30:00.000Z',
      customerId: 'cus_ada',
      status: 'PLACED',
      lineItems: [lineItem('TEE-02', 2)],
      placedBy: null,
      shipment: null,
    }),
    order('ord_1', {
      placedAt: '2026-05-01T14:05:00.000Z',
      customerId: 'cus_grace',
      status: 'SHIPPED',
      lineItems: [lineItem('MUG-01', 1), lineItem('CAP-03', 1)],
      placedBy: null,
      shipment: { carrier: 'DHL', trackingNumber: '00340434161094042557', status: 'IN_TRANSIT', address: '1 Harbour St, Oslo' },
    }),
  ];
}

/**
 * Orders kept apart by Keygate environment: the environment in the identity
 * token is the tenant, so one environment never sees another's orders.
 */
export class OrderBook {
  #byEnvironment = new Map();

  #book(environment) {
    let book = this.#byEnvironment.get(environment);
    if (!book) {
      // Forget the environment seen longest ago (a Map iterates in insertion order).
      if (this.#byEnvironment.size >= MAX_ENVIRONMENTS) this.#byEnvironment.delete(this.#byEnvironment.keys().next().value);
      const orders = sampleOrders();
      book = { orders, placed: orders.length };
      this.#byEnvironment.set(environment, book);
    }
    return book;
  }

  /** The caller's orders, newest first; a customer (a storefront's customer token) sees only their own. */
  list(caller, first = 10) {
    const orders = this.#book(caller.environment).orders.filter((o) => !caller.customerId || o.customerId === caller.customerId);
    return orders.slice(0, Math.max(0, Math.min(first, 100)));
  }

  find(caller, id) {
    return this.list(caller, MAX_ORDERS_PER_ENVIRONMENT).find((o) => o.id === id) ?? null;
  }

  place(caller, input) {
    if (input.lineItems.length === 0 || input.lineItems.length > MAX_LINE_ITEMS)
      throw new OrderInputError(`An order has 1 to ${MAX_LINE_ITEMS} line items.`);
    const lineItems = input.lineItems.map((item) => lineItem(item.sku, item.quantity));
    const book = this.#book(caller.environment);
    const placed = order(`ord_${++book.placed}`, {
      placedAt: new Date().toISOString(),
      customerId: input.customerId,
      status: 'PLACED',
      lineItems,
      placedBy: caller.subject,
      shipment: null,
    });
    book.orders.unshift(placed);
    if (book.orders.length > MAX_ORDERS_PER_ENVIRONMENT) book.orders.pop();
    return placed;
  }
}
