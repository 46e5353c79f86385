import { expect } from 'vitest';
import {
  CreateWebhookEndpointDocument,
  type CreateWebhookEndpointInput,
  WebhookDeliveriesDocument,
  type WebhookDeliveryFieldsFragment,
} from '../../src/client/generated/graphql.js';
import type { Credential, Tenant, TestKeygate } from '../harness/keygate.js';

/** A loopback receiver address: tests run with KEYGATE_WEBHOOK_ALLOW_PRIVATE=true (nothing listens; no worker runs here). */
export const RECEIVER = 'http://127.0.0.1:9/hooks';

/** Creates an endpoint (as the owner unless `credential` says otherwise) and returns it with its one-time secret. */
export async function createEndpoint(
  t: TestKeygate,
  tenant: Tenant,
  input: Partial<CreateWebhookEndpointInput> = {},
  credential: Credential = { token: tenant.owner.token },
) {
  const { body } = await t.run(
    CreateWebhookEndpointDocument,
    { input: { environmentId: tenant.dev.id, url: RECEIVER, ...input } },
    credential,
  );
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!.createWebhookEndpoint;
}

/** An endpoint's deliveries over the API, newest first (up to 100). */
export async function deliveriesOf(
  t: TestKeygate,
  tenant: Tenant,
  endpointId: string,
  environmentId = tenant.dev.id,
  credential: Credential = { token: tenant.owner.token },
): Promise<WebhookDeliveryFieldsFragment[]> {
  const { body } = await t.run(WebhookDeliveriesDocument, { environmentId, first: 100 }, credential);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  const endpoint = body.data!.webhookEndpoints.find((e) => e.id === endpointId);
  return endpoint ? endpoint.deliveries.edges.map((e) => e.node) : [];
}

/** The body of a delivery as a receiver gets it. */
export interface EventBody {
  type: string;
  timestamp: string;
  data: Record<string, any>;
}

export const bodyOf = (delivery: WebhookDeliveryFieldsFragment) => delivery.payload as EventBody;

/** Every event the outbox holds for an environment, oldest first, with its dedupe key. */
export async function outboxOf(t: TestKeygate, environmentId: string) {
  const rows = await t.keygate.deps.db
    .selectFrom('webhook_events')
    .select(['id', 'type', 'payload', 'dedupe_key', 'created_at'])
    .where('environment_id', '=', environmentId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ ...r, body: JSON.parse(r.payload) as EventBody }));
}

/** The types of an environment's outbox events, oldest first. */
export const outboxTypes = async (t: TestKeygate, environmentId: string) => (await outboxOf(t, environmentId)).map((e) => e.type);
