/**
 * What the client contract asks for and Keygate does not serve yet. This list
 * only ever shrinks: the contract test fails when an item here is in fact
 * served (remove it) and when something missing is not listed.
 */

/** Schema coordinates (types and fields) of the contract still to come, by the issue that brings them. */
export const PENDING_SCHEMA: readonly string[] = [
  // Protected resources, client-side security, activity, integrations
  'Query.integrations',
  'Query.activity',
  'Query.customers',
  'Query.customer',
  'Query.coupons',
  'Mutation.setClientSideSecurity',
  'Mutation.rotateSigningSecret',
  'Mutation.connectIntegration',
  'Mutation.disconnectIntegration',
  'Mutation.createCustomer',
  'Mutation.updateCustomer',
  'Mutation.createSubscription',
  'Mutation.cancelSubscription',
  'Mutation.createCoupon',
  'ActivityOutcome',
  'ActivityEvent',
  'ActivityFilter',
  'ActivityEventEdge',
  'ActivityEventConnection',
  'Customer',
  'CustomerEdge',
  'CustomerConnection',
  'SubscriptionStatus',
  'Subscription',
  'Coupon',
  'CouponEdge',
  'CouponConnection',
  'SetClientSideSecurityInput',
  'RotateSigningSecretInput',
  'EnvironmentPayload',
  'ConnectIntegrationInput',
  'ConnectIntegrationPayload',
  'DisconnectIntegrationInput',
  'DisconnectIntegrationPayload',
  'CreateCustomerInput',
  'UpdateCustomerInput',
  'CustomerPayload',
  'CreateSubscriptionInput',
  'CancelSubscriptionInput',
  'SubscriptionPayload',
  'CreateCouponInput',
  'CouponPayload',
];

/** Operations of contract/operations.graphql still to come (codegen leaves them out). */
export const PENDING_OPERATIONS: readonly string[] = [
  'Activity',
  'Integrations',
  'SetClientSideSecurity',
  'RotateSigningSecret',
  'ConnectIntegration',
  'DisconnectIntegration',
  'Customers',
  'Customer',
  'ClientCustomer',
  'Coupons',
  'CreateCustomer',
  'UpdateCustomer',
  'CreateSubscription',
  'CancelSubscription',
  'CreateCoupon',
];
