import type { AccountTable, MembershipTable, UserTable } from '../modules/account/account.table.js';
import type { ActivityCountTable, ActivityEventTable, ActivityRefTable } from '../modules/activity/activity.table.js';
import type { ApiKeyTable } from '../modules/api-key/api-key.table.js';
import type { KeyAuditEventTable } from '../modules/audit/key-audit.table.js';
import type { CouponTable } from '../modules/coupon/coupon.table.js';
import type { CustomerTable } from '../modules/customer/customer.table.js';
import type { EnvironmentTable } from '../modules/environment/environment.table.js';
import type { IdentityKeyTable } from '../modules/gateway/identity.table.js';
import type { IntegrationTable } from '../modules/integration/integration.table.js';
import type { SubscriptionTable } from '../modules/subscription/subscription.table.js';
import type { WebhookDeliveryTable, WebhookEndpointTable, WebhookEventTable } from '../modules/webhook/webhook.table.js';

/** Every table Keygate owns. Column names are snake_case, as in the migrations. */
export interface Database {
  accounts: AccountTable;
  users: UserTable;
  memberships: MembershipTable;
  environments: EnvironmentTable;
  api_keys: ApiKeyTable;
  integrations: IntegrationTable;
  key_audit_events: KeyAuditEventTable;
  customers: CustomerTable;
  subscriptions: SubscriptionTable;
  coupons: CouponTable;
  activity_events: ActivityEventTable;
  activity_refs: ActivityRefTable;
  activity_counts: ActivityCountTable;
  identity_keys: IdentityKeyTable;
  webhook_endpoints: WebhookEndpointTable;
  webhook_events: WebhookEventTable;
  webhook_deliveries: WebhookDeliveryTable;
}
