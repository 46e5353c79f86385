import { builder } from '../../builder.js';
import { connectionType, NodeRef } from '../common/common.schema.js';
import { ACTOR_TYPES, type Actor } from './actor.js';
import { eventDetails } from './key-audit.repository.js';
import { KEY_AUDIT_EVENT_TYPES, type KeyAuditEventRow } from './key-audit.table.js';

export const ActorTypeEnum = builder.enumType('ActorType', { values: ACTOR_TYPES });

export const ActorRef = builder.objectRef<Actor>('Actor').implement({
  fields: (t) => ({
    type: t.field({ type: ActorTypeEnum, resolve: (a) => a.type }),
    id: t.exposeID('id', { nullable: true }),
    displayName: t.exposeString('displayName', {
      description: 'User email, or the key\'s name (e.g. "Full access key"), or "System".',
    }),
  }),
});

const KeyAuditEventTypeEnum = builder.enumType('KeyAuditEventType', { values: KEY_AUDIT_EVENT_TYPES });

export const KeyAuditEventRef = builder.objectRef<KeyAuditEventRow>('KeyAuditEvent').implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    timestamp: t.field({ type: 'DateTime', resolve: (e) => e.created_at }),
    event: t.field({ type: KeyAuditEventTypeEnum, resolve: (e) => e.event }),
    actor: t.field({
      type: ActorRef,
      resolve: (e) => ({ type: e.actor_type, id: e.actor_id, displayName: e.actor_name }),
    }),
    details: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Event specifics, e.g. {"added":[...],"removed":[...]} for SCOPE_UPDATED.',
      resolve: (e) => eventDetails(e),
    }),
  }),
});

export const KeyAuditEventConnectionRef = connectionType('KeyAuditEvent', KeyAuditEventRef);
