import { type Kysely, sql } from 'kysely';
import { columnTypes } from './column-types.js';

/** The protected resources (customers, subscriptions, coupons) and the activity log. */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);

  await db.schema
    .createTable('customers')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    // The caller's own identifier for the customer, unique per environment.
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('email', 'text')
    .addColumn('metadata', t.json)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .addUniqueConstraint('customers_environment_customer_uq', ['environment_id', 'customer_id'])
    .execute();
  await db.schema.createIndex('customers_environment_idx').on('customers').columns(['environment_id', 'id']).execute();

  await db.schema
    .createTable('subscriptions')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('customer_ref', 'text', (c) => c.notNull().references('customers.id').onDelete('cascade'))
    .addColumn('plan_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('canceled_at', t.timestamp)
    .execute();
  await db.schema.createIndex('subscriptions_customer_idx').on('subscriptions').columns(['customer_ref', 'id']).execute();

  await db.schema
    .createTable('coupons')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('percent_off', 'integer', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addUniqueConstraint('coupons_environment_code_uq', ['environment_id', 'code'])
    .execute();
  await db.schema.createIndex('coupons_environment_idx').on('coupons').columns(['environment_id', 'id']).execute();

  await db.schema
    .createTable('activity_events')
    // ULID: ordering by id is ordering by time; ids are made on the request, so retries cannot duplicate.
    .addColumn('id', t.id, (c) => c.primaryKey())
    // Null for calls that concern no account or environment (a user's `viewer`, say).
    .addColumn('account_id', 'text')
    .addColumn('environment_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('operation_type', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_name', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  // One connected integration of each type per environment, enforced by the database.
  await db.schema
    .createIndex('integrations_connected_type_uq')
    .on('integrations')
    .columns(['environment_id', 'type'])
    .unique()
    .where(sql.ref('disconnected_at'), 'is', null)
    .execute();

  await db.schema
    .createIndex('activity_events_environment_idx')
    .on('activity_events')
    .columns(['environment_id', 'id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('integrations_connected_type_uq').ifExists().execute();
  for (const table of ['activity_events', 'coupons', 'subscriptions', 'customers']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
