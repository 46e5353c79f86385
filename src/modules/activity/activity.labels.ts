/** Human labels of root fields for the activity log ("Create customer"). A test keeps this complete. */
export const ACTIVITY_LABELS: Readonly<Record<string, string>> = {
  viewer: 'View caller',
  permissions: 'List permissions',
  environments: 'List environments',
  environment: 'View environment',
  apiKeys: 'List API keys',
  apiKey: 'View API key',
  integrations: 'List integrations',
  activity: 'View activity',
  customers: 'List customers',
  customer: 'View customer',
  coupons: 'List coupons',
  createEnvironment: 'Create environment',
  createScopedKey: 'Create scoped key',
  updateApiKey: 'Update API key',
  updateApiKeyScopes: 'Update API key scopes',
  rotateApiKey: 'Rotate API key',
  changeGracePeriod: 'Change grace period',
  revokeApiKey: 'Revoke API key',
  setClientSideSecurity: 'Set client-side security',
  rotateSigningSecret: 'Rotate signing secret',
  connectIntegration: 'Connect integration',
  disconnectIntegration: 'Disconnect integration',
  createCustomer: 'Create customer',
  updateCustomer: 'Update customer',
  createSubscription: 'Create subscription',
  cancelSubscription: 'Cancel subscription',
  createCoupon: 'Create coupon',
};

/** The field of the one event of a refused operation that names no field the schema knows. */
export const UNKNOWN_FIELD = '(unknown)';

/** The label of a root field; unknown fields get a readable fallback ("someField" → "Some field"). */
export function activityLabel(field: string): string {
  if (field === UNKNOWN_FIELD) return 'Invalid operation';
  const known = ACTIVITY_LABELS[field];
  if (known) return known;
  const words = field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
