import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

/** Accounts, users, memberships, environments, API keys and the key audit log. */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);

  await db.schema
    .createTable('accounts')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text')
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('memberships')
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('memberships_pk', ['account_id', 'user_id'])
    .execute();
  await db.schema.createIndex('memberships_user_idx').on('memberships').column('user_id').execute();

  await db.schema
    .createTable('environments')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('client_side_security', 'text', (c) => c.notNull().defaultTo('NOT_ENFORCED'))
    .addColumn('signing_secret_encrypted', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addUniqueConstraint('environments_account_slug_uq', ['account_id', 'slug'])
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    // Lookup is by digest only; the plaintext is never stored.
    .addColumn('digest', 'text', (c) => c.notNull().unique())
    .addColumn('last4', 'text', (c) => c.notNull())
    .addColumn('secret_encrypted', 'text', (c) => c.notNull())
    // Only scoped keys store a scope; the others derive theirs from their type.
    .addColumn('scopes', t.json)
    .addColumn('integration_id', 'text')
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('created_by_type', 'text', (c) => c.notNull())
    .addColumn('created_by_id', 'text')
    .addColumn('created_by_name', 'text', (c) => c.notNull())
    .addColumn('expires_at', t.timestamp)
    .addColumn('revoked_at', t.timestamp)
    .addColumn('rotated_from_id', 'text')
    .addColumn('rotated_to_id', 'text')
    .addColumn('last_used_at', t.timestamp)
    // Set when an integration is disconnected: the key disappears from lists, its history stays.
    .addColumn('deleted_at', t.timestamp)
    .execute();
  await db.schema.createIndex('api_keys_environment_idx').on('api_keys').columns(['environment_id', 'id']).execute();

  await db.schema
    .createTable('integrations')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text', (c) => c.notNull().references('api_keys.id'))
    .addColumn('connected_at', t.timestamp, (c) => c.notNull())
    // Disconnected integrations keep their row so the key's audit trail and activity still resolve.
    .addColumn('disconnected_at', t.timestamp)
    .execute();
  await db.schema.createIndex('integrations_environment_idx').on('integrations').columns(['environment_id', 'id']).execute();

  await db.schema
    .createTable('key_audit_events')
    // ULID ids: ordering by id is ordering by time, which the log's pagination relies on.
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_name', 'text', (c) => c.notNull())
    .addColumn('details', t.json)
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('key_audit_events_key_idx').on('key_audit_events').columns(['key_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['key_audit_events', 'integrations', 'api_keys', 'environments', 'memberships', 'users', 'accounts']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
