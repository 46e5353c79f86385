/** What backends and frontends import from `keygate/client`. */

export type { CreateCustomerTokenOptions, CustomerTokenCheck } from './customer-token.js';
export { CUSTOMER_TOKEN_FORMS, createCustomerToken, verifyCustomerToken } from './customer-token.js';
export * from './generated/graphql.js';
export type {
  KeygateClient,
  KeygateClientOptions,
  KeygateCredential,
  KeygateErrorDetail,
  KeygateResult,
} from './keygate-client.js';
export { createKeygateClient, KeygateClientError } from './keygate-client.js';
