import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import {
  ConnectIntegrationDocument,
  CreateScopedKeyDocument,
  CreateWebhookEndpointDocument,
  PermissionsDocument,
  SendTestWebhookDocument,
  ViewerDocument,
  WebhookEndpointsDocument,
} from '../../src/client/generated/graphql.js';
import { connectDatabase } from '../../src/database/connect.js';
import { createMigrator } from '../../src/database/migrator.js';
import { digestKey, generateKeySecret } from '../../src/modules/api-key/api-key.secret.js';
import { newId } from '../../src/shared/ids.js';
import { SecretBox } from '../../src/shared/secret-box.js';
import { dialect, freshDatabaseUrl } from '../harness/database.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate, testKeygateConfig } from '../harness/keygate.js';
import { rememberSecrets } from '../harness/leak-scan.js';
import { createEndpoint, RECEIVER } from './webhook.fixture.js';

const WEBHOOKS = ['webhooks:read', 'webhooks:write'];
const webhookPermissions = (permissions: readonly string[]) => permissions.filter((p) => p.startsWith('webhooks:')).sort();

let t: TestKeygate;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestKeygate({ webhookAllowPrivate: true });
  tenant = await seedTenant(t);
});

describe('webhooks:read and webhooks:write in the catalogue', () => {
  it('are listed by the permissions query, with resource, access and description', async () => {
    const { body } = await t.run(PermissionsDocument, {}, { key: tenant.dev.fullAccessKey.secret });
    const listed = body.data!.permissions.filter((p) => p.resource === 'webhooks');
    expect(listed.map((p) => [p.name, p.access])).toEqual([
      ['webhooks:read', 'READ'],
      ['webhooks:write', 'WRITE'],
    ]);
    expect(listed.every((p) => p.description.length > 20)).toBe(true);
  });

  it('let owners write, and members and read-only users read', async () => {
    for (const role of ['OWNER', 'MEMBER', 'READ_ONLY'] as const) {
      const token = role === 'OWNER' ? tenant.owner.token : (await tenant.user(role)).token;
      const read = await t.run(WebhookEndpointsDocument, { environmentId: tenant.dev.id }, { token });
      expect(read.body.errors, role).toBeUndefined();
      const write = await t.run(
        CreateWebhookEndpointDocument,
        { input: { environmentId: tenant.dev.id, url: RECEIVER } },
        { token },
      );
      if (role === 'OWNER') expect(write.body.errors, role).toBeUndefined();
      else {
        expect(codes(write.body), role).toEqual(['FORBIDDEN']);
        expect(write.body.errors![0]!.message).toContain('webhooks:write');
      }
    }
  });

  it('reach a scoped key only when given, write implying read in its stored scope', async () => {
    const { body } = await t.run(
      CreateScopedKeyDocument,
      { input: { environmentId: tenant.dev.id, name: 'Webhook admin', scopes: ['webhooks:write'] } },
      { token: tenant.owner.token },
    );
    expect(body.data!.createScopedKey.apiKey.scopes).toEqual(WEBHOOKS);
    const admin = { key: body.data!.createScopedKey.secret };
    await createEndpoint(t, tenant, {}, admin);

    const other = await tenant.scopedKey(['customers:write', 'api_keys:write']);
    const viewer = await t.run(ViewerDocument, {}, { key: other.secret });
    expect(webhookPermissions(viewer.body.data!.viewer.permissions)).toEqual([]);
    const listed = await t.run(WebhookEndpointsDocument, {}, { key: other.secret });
    expect(codes(listed.body)).toEqual(['FORBIDDEN']);
    expect(listed.body.errors![0]!.message).toContain('webhooks:read');
    // Nor can it mint a key that holds them (no escalation).
    const minted = await t.run(
      CreateScopedKeyDocument,
      { input: { name: 'Escalation', scopes: ['webhooks:read'] } },
      { key: other.secret },
    );
    expect(codes(minted.body)).toEqual(['FORBIDDEN']);

    const reader = await tenant.scopedKey(['webhooks:read']);
    const read = await t.run(WebhookEndpointsDocument, {}, { key: reader.secret });
    expect(read.body.errors).toBeUndefined();
    const created = await t.run(CreateWebhookEndpointDocument, { input: { url: RECEIVER } }, { key: reader.secret });
    expect(codes(created.body)).toEqual(['FORBIDDEN']);
    expect(created.body.errors![0]!.message).toContain('webhooks:write');
  });

  it('are not held by integration keys, whose scope is fixed', async () => {
    const { body } = await t.run(
      ConnectIntegrationDocument,
      { input: { environmentId: tenant.prod.id, type: 'ZAPIER' } },
      { token: tenant.owner.token },
    );
    const viewer = await t.run(ViewerDocument, {}, { key: body.data!.connectIntegration.secret });
    expect(webhookPermissions(viewer.body.data!.viewer.permissions)).toEqual([]);
  });
});

describe('a full access key created before webhooks existed', () => {
  const open: Keygate[] = [];
  afterAll(async () => {
    await Promise.all(open.map((k) => k.close()));
  });

  it('holds webhooks:read and webhooks:write after the migration, without any change to its row', async () => {
    const databaseUrl = await freshDatabaseUrl(
      dialect === 'sqlite' ? { fileDir: mkdtempSync(path.join(tmpdir(), 'keygate-webhook-catalogue-')) } : {},
    );
    const config = await testKeygateConfig({ databaseUrl, webhookAllowPrivate: true });
    const box = new SecretBox(config.masterKey);

    // The schema as it was before webhooks, and a full access key written into it as Keygate wrote them then.
    const old = await connectDatabase({ url: databaseUrl });
    await (await createMigrator(old.db)).migrateTo('2026-12-02T1300_compact_activity');
    const now = new Date().toISOString();
    const accountId = newId('acc');
    const environmentId = newId('env');
    const keyId = newId('key');
    const secret = generateKeySecret('server-');
    rememberSecrets(secret);
    await old.db
      .insertInto('accounts')
      .values({ id: accountId, name: 'Before webhooks', plan: 'SCALE', created_at: now })
      .execute();
    await old.db
      .insertInto('environments')
      .values({
        id: environmentId,
        account_id: accountId,
        name: 'Development',
        slug: 'development',
        client_side_security: 'NOT_ENFORCED',
        signing_secret_encrypted: box.seal(randomBytes(32).toString('hex'), environmentId),
        created_at: now,
      })
      .execute();
    await old.db
      .insertInto('api_keys')
      .values({
        id: keyId,
        account_id: accountId,
        environment_id: environmentId,
        type: 'FULL_ACCESS',
        name: 'Full access key',
        description: null,
        digest: digestKey(secret),
        last4: secret.slice(-4),
        secret_encrypted: box.seal(secret, keyId),
        scopes: null,
        integration_id: null,
        created_at: now,
        created_by_type: 'SYSTEM',
        created_by_id: null,
        created_by_name: 'System',
      })
      .execute();
    const rowBefore = await old.db.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirstOrThrow();
    await old.close();

    // Keygate starts on it and applies the webhook migrations.
    const keygate = await createKeygate({ config, webhookScheduler: { enabled: false }, retention: { enabled: false } });
    open.push(keygate);
    const ask = async <TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables: TVars) => {
      const res = await keygate.yoga.fetch('http://keygate.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': secret },
        body: JSON.stringify({ query: print(document), variables }),
      });
      const body = (await res.json()) as { data: TData; errors?: unknown };
      expect(body.errors).toBeUndefined();
      return body.data;
    };
    const viewer = await ask(ViewerDocument, {});
    expect(webhookPermissions(viewer.viewer.permissions)).toEqual(WEBHOOKS);
    const created = await ask(CreateWebhookEndpointDocument, { input: { url: RECEIVER } });
    rememberSecrets(created.createWebhookEndpoint.signingSecret);
    const { endpoint } = created.createWebhookEndpoint;
    expect(endpoint.environment.id).toBe(environmentId);
    expect((await ask(WebhookEndpointsDocument, {})).webhookEndpoints.map((e) => e.id)).toEqual([endpoint.id]);
    const sent = await ask(SendTestWebhookDocument, { input: { id: endpoint.id } });
    expect(sent.sendTestWebhook.delivery.status).toBe('PENDING');

    // Its row is as it was written (only its last use moves).
    await keygate.deps.keyUsage.flush();
    const rowAfter = await keygate.deps.db.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirstOrThrow();
    expect({ ...rowAfter, last_used_at: null }).toEqual({ ...rowBefore, last_used_at: null });
    expect(rowAfter.scopes).toBeNull();
  });
});
