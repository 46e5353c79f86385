import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type DocumentNode, print } from 'graphql';
import type { ErrorCode } from '../shared/errors.js';
import * as ops from './generated/graphql.js';

/**
 * A typed client for Keygate's GraphQL API, for backends (Node) and browsers
 * alike: it needs only a global `fetch`. Every method's variables and result
 * come from the generated documents of the client contract.
 */

/** How the client authenticates: an API key (services, SDKs) or a user's session token (dashboards). */
export type KeygateCredential = { apiKey: string; sessionToken?: never } | { sessionToken: string; apiKey?: never };

export type KeygateClientOptions = KeygateCredential & {
  /** The GraphQL endpoint, e.g. `http://localhost:4000/graphql` (a path like `/graphql` works in the browser). */
  url: string;
  /** `X-Customer-Token`, sent next to a publishable key (client-side security). */
  customerToken?: string;
  /** Defaults to the global `fetch`; tests pass one that routes to an in-process server. */
  fetch?: typeof fetch;
};

/** One GraphQL error as the client reports it. */
export interface KeygateErrorDetail {
  message: string;
  /** `extensions.code` (SPEC §7); `INTERNAL` when the server sent none or the response was not GraphQL. */
  code: ErrorCode;
  /** Where in the data the error happened (a denied field), if anywhere. */
  path: readonly (string | number)[] | null;
  extensions: Readonly<Record<string, unknown>>;
}

/** The whole outcome of one request: data (possibly partial) and every error. */
export interface KeygateResult<TData> {
  /** HTTP status of the response. */
  status: number;
  /** `null` when the operation failed as a whole; partial when some fields were denied. */
  data: TData | null;
  errors: readonly KeygateErrorDetail[];
}

/** A request that came back with GraphQL errors; carries each error's code and whatever data arrived. */
export class KeygateClientError<TData = unknown> extends Error {
  readonly status: number;
  readonly errors: readonly KeygateErrorDetail[];
  /** Partial data: e.g. a key whose `secret` was denied (`FORBIDDEN` on that field alone). */
  readonly data: TData | null;

  constructor(result: KeygateResult<TData>) {
    super(result.errors.map((e) => `${e.code}: ${e.message}`).join('; ') || `Keygate request failed (HTTP ${result.status}).`);
    this.name = 'KeygateClientError';
    this.status = result.status;
    this.errors = result.errors;
    this.data = result.data;
  }

  /** The code of the first error. */
  get code(): ErrorCode {
    return this.errors[0]?.code ?? 'INTERNAL';
  }

  /** Every distinct code, in order of first appearance. */
  get codes(): ErrorCode[] {
    return [...new Set(this.errors.map((e) => e.code))];
  }

  /** Whether any error carries this code. */
  has(code: ErrorCode): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

/** Variables are optional when the operation has no required ones. */
type VariablesArgs<TVars> = Record<string, never> extends TVars ? [variables?: TVars] : [variables: TVars];

/** The `input` argument of a mutation document. */
type InputOf<TVars> = TVars extends { input: infer I } ? I : never;

const printed = new WeakMap<DocumentNode, string>();
function source(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

interface RawError {
  message?: unknown;
  path?: unknown;
  extensions?: Record<string, unknown>;
}

function detailOf(raw: RawError): KeygateErrorDetail {
  const extensions = raw.extensions ?? {};
  return {
    message: typeof raw.message === 'string' ? raw.message : 'Unknown error.',
    code: typeof extensions.code === 'string' ? (extensions.code as ErrorCode) : 'INTERNAL',
    path: Array.isArray(raw.path) ? (raw.path as (string | number)[]) : null,
    extensions,
  };
}

async function parseResponse<TData>(response: Response): Promise<KeygateResult<TData>> {
  const text = await response.text();
  let body: { data?: TData | null; errors?: RawError[] } | null = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!body || typeof body !== 'object' || (!('data' in body) && !Array.isArray(body.errors))) {
    const message = `Unexpected HTTP ${response.status} response from Keygate: ${text.slice(0, 200)}`;
    return { status: response.status, data: null, errors: [detailOf({ message })] };
  }
  return { status: response.status, data: body.data ?? null, errors: (body.errors ?? []).map(detailOf) };
}

/** Creates a typed Keygate client. */
export function createKeygateClient(options: KeygateClientOptions) {
  const send = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (options.apiKey) headers['x-api-key'] = options.apiKey;
  else if (options.sessionToken) headers.authorization = `Bearer ${options.sessionToken}`;
  if (options.customerToken) headers['x-customer-token'] = options.customerToken;

  /** Runs any typed document and returns data and errors without throwing on GraphQL errors. */
  async function execute<TData, TVars>(
    document: TypedDocumentNode<TData, TVars>,
    ...[variables]: VariablesArgs<TVars>
  ): Promise<KeygateResult<TData>> {
    const response = await send(options.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: source(document), variables: variables ?? {} }),
    });
    return parseResponse<TData>(response);
  }

  /** Runs any typed document; throws a `KeygateClientError` (with partial data) if any error came back. */
  async function request<TData, TVars>(document: TypedDocumentNode<TData, TVars>, ...args: VariablesArgs<TVars>): Promise<TData> {
    const result = await execute(document, ...args);
    if (result.errors.length || result.data === null) throw new KeygateClientError(result);
    return result.data;
  }

  /** A method returning one root field of a document. */
  const field =
    <TData, TVars, K extends keyof TData>(document: TypedDocumentNode<TData, TVars>, key: K) =>
    async (...args: VariablesArgs<TVars>): Promise<TData[K]> =>
      (await request(document, ...args))[key];

  /** A mutation method taking its `input` directly. */
  const mutation =
    <TData, TVars extends { input: unknown }, K extends keyof TData>(document: TypedDocumentNode<TData, TVars>, key: K) =>
    async (input: InputOf<TVars>): Promise<TData[K]> =>
      (await request(document, ...([{ input }] as unknown as VariablesArgs<TVars>)))[key];

  return {
    execute,
    request,
    viewer: field(ops.ViewerDocument, 'viewer'),
    permissions: field(ops.PermissionsDocument, 'permissions'),
    environments: field(ops.EnvironmentsDocument, 'environments'),
    /** The environment's client-side security and signing secret (owners and the full access key). */
    signingSecret: field(ops.SigningSecretDocument, 'environment'),
    apiKeys: field(ops.ApiKeysDocument, 'apiKeys'),
    /** One key with its rotation links and audit log. */
    apiKey: field(ops.ApiKeyDetailDocument, 'apiKey'),
    /** The key's secret; throws `FORBIDDEN` (with the masked key as partial data) for callers who may not reveal it. */
    revealApiKey: async (id: string): Promise<string | null> =>
      (await request(ops.RevealApiKeyDocument, { id })).apiKey?.secret ?? null,
    activity: field(ops.ActivityDocument, 'activity'),
    integrations: field(ops.IntegrationsDocument, 'integrations'),
    webhookEndpoints: field(ops.WebhookEndpointsDocument, 'webhookEndpoints'),
    /** Every endpoint of the environment with a page of its deliveries, newest first. */
    webhookDeliveries: field(ops.WebhookDeliveriesDocument, 'webhookEndpoints'),
    customers: field(ops.CustomersDocument, 'customers'),
    customer: field(ops.CustomerDocument, 'customer'),
    /** What a browser reads with the publishable key (and a customer token when enforced). */
    clientCustomer: field(ops.ClientCustomerDocument, 'customer'),
    coupons: field(ops.CouponsDocument, 'coupons'),
    createEnvironment: mutation(ops.CreateEnvironmentDocument, 'createEnvironment'),
    createScopedKey: mutation(ops.CreateScopedKeyDocument, 'createScopedKey'),
    updateApiKey: mutation(ops.UpdateApiKeyDocument, 'updateApiKey'),
    updateApiKeyScopes: mutation(ops.UpdateApiKeyScopesDocument, 'updateApiKeyScopes'),
    rotateApiKey: mutation(ops.RotateApiKeyDocument, 'rotateApiKey'),
    changeGracePeriod: mutation(ops.ChangeGracePeriodDocument, 'changeGracePeriod'),
    revokeApiKey: mutation(ops.RevokeApiKeyDocument, 'revokeApiKey'),
    setClientSideSecurity: mutation(ops.SetClientSideSecurityDocument, 'setClientSideSecurity'),
    rotateSigningSecret: mutation(ops.RotateSigningSecretDocument, 'rotateSigningSecret'),
    connectIntegration: mutation(ops.ConnectIntegrationDocument, 'connectIntegration'),
    disconnectIntegration: mutation(ops.DisconnectIntegrationDocument, 'disconnectIntegration'),
    createWebhookEndpoint: mutation(ops.CreateWebhookEndpointDocument, 'createWebhookEndpoint'),
    updateWebhookEndpoint: mutation(ops.UpdateWebhookEndpointDocument, 'updateWebhookEndpoint'),
    rotateWebhookSecret: mutation(ops.RotateWebhookSecretDocument, 'rotateWebhookSecret'),
    deleteWebhookEndpoint: mutation(ops.DeleteWebhookEndpointDocument, 'deleteWebhookEndpoint'),
    sendTestWebhook: mutation(ops.SendTestWebhookDocument, 'sendTestWebhook'),
    redeliverWebhook: mutation(ops.RedeliverWebhookDocument, 'redeliverWebhook'),
    createCustomer: mutation(ops.CreateCustomerDocument, 'createCustomer'),
    updateCustomer: mutation(ops.UpdateCustomerDocument, 'updateCustomer'),
    createSubscription: mutation(ops.CreateSubscriptionDocument, 'createSubscription'),
    cancelSubscription: mutation(ops.CancelSubscriptionDocument, 'cancelSubscription'),
    createCoupon: mutation(ops.CreateCouponDocument, 'createCoupon'),
  };
}

/** A client made by `createKeygateClient`. */
export type KeygateClient = ReturnType<typeof createKeygateClient>;
