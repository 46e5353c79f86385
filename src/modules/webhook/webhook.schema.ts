import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { connectionType, NodeRef, optionalId, pageArgs } from '../common/common.schema.js';
import { EnvironmentRef } from '../environment/environment.schema.js';
import { requires } from '../permission/permission.guard.js';
import type { WebhookDelivery, WebhookEndpoint } from './webhook.model.js';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  type EndpointWithSecret,
  listEndpointDeliveries,
  listWebhookEndpoints,
  redeliverWebhook,
  rotateWebhookSecret,
  sendTestWebhook,
  updateWebhookEndpoint,
  WEBHOOK_NEEDS,
} from './webhook.service.js';
import { WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhook.table.js';

/** `api_key.scopes_updated` → `API_KEY_SCOPES_UPDATED`: the enum names the body's types in upper case. */
const enumName = (type: WebhookEventType) => type.replace('.', '_').toUpperCase();

export const WebhookEventTypeEnum = builder.enumType('WebhookEventType', {
  description: 'An event type; the body\'s `type` is its lower-case dotted form (API_KEY_CREATED is "api_key.created").',
  values: Object.fromEntries(
    WEBHOOK_EVENT_TYPES.map((type) => [
      enumName(type),
      { value: type, ...(type === 'webhook.test' ? { description: 'Sent only by sendTestWebhook.' } : {}) },
    ]),
  ) as Record<string, { value: WebhookEventType; description?: string }>,
});

export const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', { values: WEBHOOK_DELIVERY_STATUSES });

export const WebhookEndpointRef = builder.objectRef<WebhookEndpoint>('WebhookEndpoint');
export const WebhookDeliveryRef = builder.objectRef<WebhookDelivery>('WebhookDelivery');

WebhookDeliveryRef.implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeID('eventId', { description: "The event's id, sent as the webhook-id header on every attempt." }),
    eventType: t.field({ type: WebhookEventTypeEnum, resolve: (d) => d.eventType }),
    payload: t.field({
      type: 'JSON',
      description: 'The JSON body that is sent. Never holds a secret.',
      resolve: (d) => JSON.parse(d.payload) as unknown,
    }),
    status: t.field({ type: WebhookDeliveryStatusEnum, resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts'),
    lastAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.lastAttemptAt }),
    lastResponseStatus: t.exposeInt('lastResponseStatus', {
      nullable: true,
      description: 'HTTP status of the last attempt; null when it got no answer.',
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the last attempt failed (a timeout, a refused connection, a private address…); never the response body.',
    }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.nextAttemptAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
  }),
});

const WebhookDeliveryConnectionRef = connectionType('WebhookDelivery', WebhookDeliveryRef);

WebhookEndpointRef.implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    environment: t.field({
      ...activity('View environment'),
      type: EnvironmentRef,
      resolve: async (e, _args, ctx) => (await ctx.loaders.environment.load(e.environmentId))!,
    }),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.field({
      type: [WebhookEventTypeEnum],
      description: 'Event types delivered to this endpoint; empty means every type.',
      resolve: (e) => e.eventTypes,
    }),
    enabled: t.exposeBoolean('enabled'),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
    deliveries: t.field({
      ...requires(WEBHOOK_NEEDS.read),
      type: WebhookDeliveryConnectionRef,
      description: 'Newest first.',
      args: pageArgs(t),
      resolve: (e, args, ctx) => listEndpointDeliveries(ctx, e, args),
    }),
  }),
});

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    environmentId: t.id({ required: false }),
    url: t.string({ required: true, description: 'https:// on a public address (SPEC §10).' }),
    description: t.string({ required: false }),
    eventTypes: t.field({ type: [WebhookEventTypeEnum], required: false, description: 'Omitted or empty: every type.' }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    url: t.string({ required: false }),
    description: t.string({ required: false, description: 'null or empty clears it.' }),
    eventTypes: t.field({ type: [WebhookEventTypeEnum], required: false, description: 'Empty: every type.' }),
    enabled: t.boolean({ required: false }),
  }),
});

const idInput = (name: string) => builder.inputType(name, { fields: (t) => ({ id: t.id({ required: true }) }) });
const RotateWebhookSecretInput = idInput('RotateWebhookSecretInput');
const DeleteWebhookEndpointInput = idInput('DeleteWebhookEndpointInput');
const SendTestWebhookInput = idInput('SendTestWebhookInput');
const RedeliverWebhookInput = builder.inputType('RedeliverWebhookInput', {
  fields: (t) => ({ deliveryId: t.id({ required: true }) }),
});

const WebhookEndpointSecretPayload = builder.objectRef<EndpointWithSecret>('WebhookEndpointSecretPayload').implement({
  fields: (t) => ({
    endpoint: t.field({ type: WebhookEndpointRef, resolve: (p) => p.endpoint }),
    signingSecret: t.exposeString('signingSecret', {
      description: 'whsec_..., returned once (Standard Webhooks); never readable again.',
    }),
  }),
});

const WebhookEndpointPayload = builder.objectRef<{ endpoint: WebhookEndpoint }>('WebhookEndpointPayload').implement({
  fields: (t) => ({ endpoint: t.field({ type: WebhookEndpointRef, resolve: (p) => p.endpoint }) }),
});

const DeleteWebhookEndpointPayload = builder.objectRef<{ id: string }>('DeleteWebhookEndpointPayload').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

const WebhookDeliveryPayload = builder.objectRef<{ delivery: WebhookDelivery }>('WebhookDeliveryPayload').implement({
  fields: (t) => ({ delivery: t.field({ type: WebhookDeliveryRef, resolve: (p) => p.delivery }) }),
});

builder.queryField('webhookEndpoints', (t) =>
  t.field({
    ...activity('List webhook endpoints'),
    ...requires(WEBHOOK_NEEDS.read),
    type: [WebhookEndpointRef],
    description:
      "Webhook endpoints of an environment, in creation order. environmentId defaults to the calling key's environment.",
    args: { environmentId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) => listWebhookEndpoints(ctx, optionalId(args.environmentId)),
  }),
);

const write = requires(WEBHOOK_NEEDS.write);

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    ...activity('Create webhook endpoint'),
    ...write,
    type: WebhookEndpointSecretPayload,
    description: 'A new endpoint receiving every event type, or those named; its signing secret is returned once.',
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createWebhookEndpoint(ctx, {
        environmentId: optionalId(input.environmentId),
        url: input.url,
        description: input.description,
        eventTypes: input.eventTypes,
      }),
  }),
  updateWebhookEndpoint: t.field({
    ...activity('Update webhook endpoint'),
    ...write,
    type: WebhookEndpointPayload,
    args: { input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      endpoint: await updateWebhookEndpoint(ctx, {
        id: String(input.id),
        url: input.url,
        description: input.description,
        eventTypes: input.eventTypes,
        enabled: input.enabled,
      }),
    }),
  }),
  rotateWebhookSecret: t.field({
    ...activity('Rotate webhook secret'),
    ...write,
    type: WebhookEndpointSecretPayload,
    description: 'A new signing secret, returned once; for 24 h deliveries are signed with the previous one too.',
    args: { input: t.arg({ type: RotateWebhookSecretInput, required: true }) },
    resolve: (_root, { input }, ctx) => rotateWebhookSecret(ctx, { id: String(input.id) }),
  }),
  deleteWebhookEndpoint: t.field({
    ...activity('Delete webhook endpoint'),
    ...write,
    type: DeleteWebhookEndpointPayload,
    args: { input: t.arg({ type: DeleteWebhookEndpointInput, required: true }) },
    resolve: (_root, { input }, ctx) => deleteWebhookEndpoint(ctx, { id: String(input.id) }),
  }),
  sendTestWebhook: t.field({
    ...activity('Send test webhook'),
    ...write,
    type: WebhookDeliveryPayload,
    description: 'Queues a webhook.test event to this endpoint only.',
    args: { input: t.arg({ type: SendTestWebhookInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ delivery: await sendTestWebhook(ctx, { id: String(input.id) }) }),
  }),
  redeliverWebhook: t.field({
    ...activity('Redeliver webhook'),
    ...write,
    type: WebhookDeliveryPayload,
    description: 'Queues the same event (same webhook-id) to the same endpoint again, due now.',
    args: { input: t.arg({ type: RedeliverWebhookInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      delivery: await redeliverWebhook(ctx, { deliveryId: String(input.deliveryId) }),
    }),
  }),
}));
