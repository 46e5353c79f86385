import type { EnvironmentsQuery, PermissionsQuery, Role, ViewerQuery } from '../client/generated/graphql.js';
import type { KeygateClient } from '../client/keygate-client.js';

export type Viewer = ViewerQuery['viewer'];
export type Environment = EnvironmentsQuery['environments'][number];
export type Permission = PermissionsQuery['permissions'][number];

/** What every view of the signed-in console gets: the client, who is signed in, and where. */
export interface ConsoleContext {
  client: KeygateClient;
  viewer: Viewer;
  environment: Environment;
  permissions: readonly Permission[];
  /** The viewer's role in the environment's account. */
  role: Role | null;
  /** Owners manage keys, reveal secrets and change environment settings (SPEC §4); the page offers those to them only. */
  isOwner: boolean;
  /** Shows an error in the page banner. */
  showError(error: unknown): void;
  /** Shows a short confirmation in the page banner. */
  notify(message: string): void;
}
