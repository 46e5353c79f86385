import { GraphQLSchema, specifiedDirectives } from 'graphql';
import { builder } from './builder.js';
import './modules/common/common.schema.js';
import './modules/permission/permission.schema.js';
import { withActivityRoots } from './modules/activity/activity.places.js';
import { AUTH_DIRECTIVES } from './modules/permission/permission.directives.js';
import './modules/account/account.schema.js';
import './modules/environment/environment.schema.js';
import './modules/api-key/api-key.schema.js';
import './modules/api-key/api-key-lifecycle.schema.js';
import './modules/audit/audit.schema.js';
import './modules/integration/integration.schema.js';
import './modules/client-security/client-security.schema.js';
import './modules/customer/customer.schema.js';
import './modules/subscription/subscription.schema.js';
import './modules/coupon/coupon.schema.js';
import './modules/activity/activity.schema.js';
import './modules/webhook/webhook.schema.js';

builder.queryType({});
builder.mutationType({});

const built = builder.toSchema({
  directives: [...specifiedDirectives, ...AUTH_DIRECTIVES],
  sortSchema: false,
});

/**
 * The Keygate schema, with the authorization directives applied from the
 * permission catalogue. It has no subscription root: Pothos (like graphql-js'
 * SDL conventions) takes an object type named `Subscription` as one, but ours
 * is a customer's billing subscription, an ordinary type.
 */
export const schema: GraphQLSchema = withActivityRoots(new GraphQLSchema({ ...built.toConfig(), subscription: null }));
