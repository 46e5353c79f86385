/**
 * What the client contract asks for and Keygate does not serve yet. This list
 * only ever shrinks: the contract test fails when an item here is in fact
 * served (remove it) and when something missing is not listed. What is left
 * is the webhook section (issue 16).
 */

/** Schema coordinates (types and fields) of the contract still to come. */
export const PENDING_SCHEMA: readonly string[] = [
  'WebhookEventType',
  'WebhookDeliveryStatus',
  'WebhookEndpoint',
  'WebhookDelivery',
  'WebhookDeliveryEdge',
  'WebhookDeliveryConnection',
  'CreateWebhookEndpointInput',
  'WebhookEndpointSecretPayload',
  'UpdateWebhookEndpointInput',
  'WebhookEndpointPayload',
  'RotateWebhookSecretInput',
  'DeleteWebhookEndpointInput',
  'DeleteWebhookEndpointPayload',
  'SendTestWebhookInput',
  'RedeliverWebhookInput',
  'WebhookDeliveryPayload',
  'Query.webhookEndpoints',
  'Mutation.createWebhookEndpoint',
  'Mutation.updateWebhookEndpoint',
  'Mutation.rotateWebhookSecret',
  'Mutation.deleteWebhookEndpoint',
  'Mutation.sendTestWebhook',
  'Mutation.redeliverWebhook',
];

/** Operations of contract/operations.graphql still to come (codegen leaves them out). */
export const PENDING_OPERATIONS: readonly string[] = [
  'WebhookEndpoints',
  'WebhookDeliveries',
  'CreateWebhookEndpoint',
  'UpdateWebhookEndpoint',
  'RotateWebhookSecret',
  'DeleteWebhookEndpoint',
  'SendTestWebhook',
  'RedeliverWebhook',
];
