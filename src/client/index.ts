/** What backends and frontends import from `keygate/client`. */

export type { CreateCustomerTokenOptions, CustomerTokenCheck } from './customer-token.js';
export { CUSTOMER_TOKEN_FORMS, createCustomerToken, verifyCustomerToken } from './customer-token.js';
export * from './generated/graphql.js';
