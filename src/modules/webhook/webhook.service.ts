import type { RequestContext } from '../../context.js';
import { conflict, notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { type Page, type PageArgs, pageRequest, toPage } from '../../shared/pagination.js';
import { isKeygateId, optionalText } from '../../shared/validation.js';
import { reach, resolveEnvironment } from '../auth/tenancy.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { type Grants, needs } from '../permission/permission.model.js';
import type { WebhookDelivery, WebhookEndpoint } from './webhook.model.js';
import { emitTestEvent } from './webhook.outbox.js';
import {
  countDeliveries,
  countEndpoints,
  deleteEndpoint,
  findDelivery,
  insertDeliveries,
  insertEndpoint,
  listDeliveries,
  listEndpoints,
  rotateEndpointSecret,
  updateEndpoint,
} from './webhook.repository.js';
import { newSigningSecret } from './webhook.signing.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook.table.js';
import { checkWebhookUrl } from './webhook.url.js';

/** What reading and managing webhooks needs; the fields' gates (webhook.schema.ts) read the same declarations. */
export const WEBHOOK_NEEDS = { read: needs([P.webhooksRead]), write: needs([P.webhooksWrite]) };

export const WEBHOOK_DESCRIPTION_MAX = 500;
/** Endpoints one environment may have: every event is queued once per endpoint, so their number bounds the fan-out. */
export const MAX_ENDPOINTS_PER_ENVIRONMENT = 20;
/** After a rotation, deliveries are signed with the previous secret too for this long (SPEC §10). */
export const PREVIOUS_SECRET_LIFETIME_MS = 24 * 60 * 60 * 1000;

/** An endpoint with its signing secret in plaintext: returned by creation and rotation, once. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  signingSecret: string;
}

/** The event types an endpoint takes, each once, in the catalogue's order; empty means every type. */
function normaliseEventTypes(types: readonly WebhookEventType[]): WebhookEventType[] {
  return WEBHOOK_EVENT_TYPES.filter((type) => types.includes(type));
}

/** An endpoint the caller can see, with the caller's grants in its environment; NOT_FOUND otherwise. */
async function reachEndpoint(ctx: RequestContext, id: string): Promise<{ endpoint: WebhookEndpoint; grants: Grants }> {
  const endpoint = await ctx.loaders.webhookEndpoint.load(id);
  const grants = endpoint ? reach(ctx, { account_id: endpoint.accountId, environment_id: endpoint.environmentId }) : null;
  if (!endpoint || !grants) throw notFound('Webhook endpoint');
  return { endpoint, grants };
}

/** Makes the request's loader serve the endpoint as it is after a change. */
function refresh(ctx: RequestContext, endpoint: WebhookEndpoint): WebhookEndpoint {
  ctx.loaders.webhookEndpoint.clear(endpoint.id).prime(endpoint.id, endpoint);
  return endpoint;
}

/** A URL as stored: checked by the address policy (SPEC §10), in its normalised form (what is checked is what is used). */
async function checkedUrl(ctx: RequestContext, raw: string): Promise<string> {
  return (await checkWebhookUrl(raw, { allowPrivate: ctx.deps.webhooks.allowPrivate })).href;
}

export async function listWebhookEndpoints(ctx: RequestContext, environmentId?: string | null): Promise<WebhookEndpoint[]> {
  const { env, grants } = await resolveEnvironment(ctx, environmentId);
  assertGranted(grants, WEBHOOK_NEEDS.read);
  const endpoints = await listEndpoints(ctx.db, env.id);
  for (const endpoint of endpoints) ctx.loaders.webhookEndpoint.prime(endpoint.id, endpoint);
  return endpoints;
}

/** An endpoint's deliveries, newest first (the caller already reached the endpoint). */
export async function listEndpointDeliveries(
  ctx: RequestContext,
  endpoint: WebhookEndpoint,
  args: PageArgs,
): Promise<Page<WebhookDelivery>> {
  const page = pageRequest(args);
  const { grants } = await reachEndpoint(ctx, endpoint.id);
  assertGranted(grants, WEBHOOK_NEEDS.read);
  const rows = await listDeliveries(ctx.db, endpoint.id, page);
  return toPage(rows, page, () => countDeliveries(ctx.db, endpoint.id));
}

export interface CreateWebhookEndpointInput {
  environmentId?: string | null;
  url: string;
  description?: string | null;
  eventTypes?: readonly WebhookEventType[] | null;
}

/** createWebhookEndpoint: the `whsec_…` secret is returned here once, and stored only encrypted. */
export async function createWebhookEndpoint(ctx: RequestContext, input: CreateWebhookEndpointInput): Promise<EndpointWithSecret> {
  const description = optionalText('description', input.description, WEBHOOK_DESCRIPTION_MAX);
  const eventTypes = normaliseEventTypes(input.eventTypes ?? []);
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, WEBHOOK_NEEDS.write);
  // Resolved only for callers allowed to create: nobody else makes Keygate look names up.
  const url = await checkedUrl(ctx, input.url);
  if ((await countEndpoints(ctx.db, env.id)) >= MAX_ENDPOINTS_PER_ENVIRONMENT) {
    throw conflict(`An environment has at most ${MAX_ENDPOINTS_PER_ENVIRONMENT} webhook endpoints; delete one first.`);
  }
  const id = newId('whe');
  const signingSecret = newSigningSecret();
  const now = ctx.clock.now().toISOString();
  const endpoint: WebhookEndpoint = {
    id,
    accountId: env.account_id,
    environmentId: env.id,
    url,
    description,
    eventTypes,
    enabled: true,
    // The endpoint id is bound in as associated data, as for key secrets: a ciphertext cannot be moved to another row.
    secretEncrypted: ctx.deps.secretBox.seal(signingSecret, id),
    previousSecretEncrypted: null,
    previousSecretExpiresAt: null,
    createdAt: now,
    updatedAt: now,
  };
  await insertEndpoint(ctx.db, endpoint);
  return { endpoint: refresh(ctx, endpoint), signingSecret };
}

export interface UpdateWebhookEndpointInput {
  id: string;
  url?: string | null;
  /** null or empty clears it; absent leaves it. */
  description?: string | null;
  eventTypes?: readonly WebhookEventType[] | null;
  enabled?: boolean | null;
}

/** updateWebhookEndpoint: what is given changes, the rest stays; a new URL passes the same checks as at creation. */
export async function updateWebhookEndpoint(ctx: RequestContext, input: UpdateWebhookEndpointInput): Promise<WebhookEndpoint> {
  const description =
    input.description === undefined ? undefined : optionalText('description', input.description, WEBHOOK_DESCRIPTION_MAX);
  const eventTypes = input.eventTypes == null ? undefined : normaliseEventTypes(input.eventTypes);
  const { endpoint, grants } = await reachEndpoint(ctx, input.id);
  assertGranted(grants, WEBHOOK_NEEDS.write);
  const url = input.url == null ? undefined : await checkedUrl(ctx, input.url);
  const updated = await updateEndpoint(ctx.db, endpoint.id, {
    url,
    description,
    eventTypes,
    enabled: input.enabled ?? undefined,
    updatedAt: ctx.clock.now().toISOString(),
  });
  if (!updated) throw notFound('Webhook endpoint');
  return refresh(ctx, updated);
}

/** rotateWebhookSecret: a new secret, returned once; the previous one keeps signing for 24 h. */
export async function rotateWebhookSecret(ctx: RequestContext, input: { id: string }): Promise<EndpointWithSecret> {
  const { endpoint, grants } = await reachEndpoint(ctx, input.id);
  assertGranted(grants, WEBHOOK_NEEDS.write);
  const now = ctx.clock.now();
  const signingSecret = newSigningSecret();
  const rotated = await rotateEndpointSecret(ctx.db, endpoint.id, {
    secretEncrypted: ctx.deps.secretBox.seal(signingSecret, endpoint.id),
    previousExpiresAt: new Date(now.getTime() + PREVIOUS_SECRET_LIFETIME_MS).toISOString(),
    updatedAt: now.toISOString(),
  });
  if (!rotated) throw notFound('Webhook endpoint');
  return { endpoint: refresh(ctx, rotated), signingSecret };
}

/** deleteWebhookEndpoint: the endpoint and its deliveries go; nothing more is sent to it. */
export async function deleteWebhookEndpoint(ctx: RequestContext, input: { id: string }): Promise<{ id: string }> {
  const { endpoint, grants } = await reachEndpoint(ctx, input.id);
  assertGranted(grants, WEBHOOK_NEEDS.write);
  if (!(await deleteEndpoint(ctx.db, endpoint.id))) throw notFound('Webhook endpoint');
  ctx.loaders.webhookEndpoint.clear(endpoint.id);
  return { id: endpoint.id };
}

/** A delivery by id; an id that could never have been made is not looked up. */
async function deliveryById(ctx: RequestContext, id: string): Promise<WebhookDelivery | undefined> {
  return isKeygateId(id, 'whd') ? findDelivery(ctx.db, id) : undefined;
}

/** sendTestWebhook: a `webhook.test` event delivered to this endpoint only (whatever its event types, enabled or not). */
export async function sendTestWebhook(ctx: RequestContext, input: { id: string }): Promise<WebhookDelivery> {
  const { endpoint, grants } = await reachEndpoint(ctx, input.id);
  assertGranted(grants, WEBHOOK_NEEDS.write);
  const deliveryId = await ctx.db
    .transaction()
    .execute((trx) => emitTestEvent(trx, endpoint, ctx.principal.actor, ctx.clock.now()));
  return (await deliveryById(ctx, deliveryId))!;
}

/**
 * redeliverWebhook: a new delivery of the same event to the same endpoint,
 * due now. The event is the same, so is its `webhook-id`: a receiver that
 * deduplicates by it sees the redelivery as the event it may already have.
 */
export async function redeliverWebhook(ctx: RequestContext, input: { deliveryId: string }): Promise<WebhookDelivery> {
  const original = await deliveryById(ctx, input.deliveryId);
  const grants = original ? reach(ctx, { account_id: original.accountId, environment_id: original.environmentId }) : null;
  if (!original || !grants) throw notFound('Webhook delivery');
  assertGranted(grants, WEBHOOK_NEEDS.write);
  const id = newId('whd');
  await insertDeliveries(ctx.db, [
    {
      id,
      eventId: original.eventId,
      endpointId: original.endpointId,
      environmentId: original.environmentId,
      at: ctx.clock.now().toISOString(),
    },
  ]);
  return (await deliveryById(ctx, id))!;
}
