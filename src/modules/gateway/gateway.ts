import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import type { GraphQLSchema } from 'graphql';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { RequestContext } from '../../context.js';
import type { Database } from '../../database/database.js';
import type { Notifications } from '../../database/notifications.js';
import { BUILT_IN_CATALOGUE, PermissionCatalogue, type PermissionDefinition } from '../permission/permission.catalogue.js';
import { assertNoCollisions, buildGatewaySchema, type LoadedUpstream } from './gateway.schema.js';
import type { IdentityTokens } from './identity.js';
import { settledCallerOf, upstreamCallerOf } from './upstream.caller.js';
import { readUpstreamsFile, type UpstreamConfig, type UpstreamsFile } from './upstream.config.js';
import { type UpstreamAnswer, upstreamClient } from './upstream.fetch.js';
import { answeredWithoutData, Passthrough } from './upstream.passthrough.js';
import { applyDefaultDeny, type UpstreamRules, upstreamRules } from './upstream.permissions.js';
import { buildUpstreamSchema, cleanUpstreamSdl, UpstreamSchemaError } from './upstream.sdl.js';
import { InflightShare } from './upstream.share.js';

/** What is served right now: one schema and the catalogue it was built with, swapped whole on reload. */
export interface GatewayState {
  schema: GraphQLSchema;
  catalogue: PermissionCatalogue;
  upstreams: readonly { name: string; rules: UpstreamRules }[];
  /** Operations one upstream answers whole (upstream.passthrough.ts); null without upstreams. */
  passthrough: Passthrough | null;
}

const SDL_QUERY = '{ _service { sdl } }';

/** Distinct identical-query groups in flight at once per upstream before requests go out unshared. */
const MAX_SHARED_INFLIGHT = 1024;

/** Identity tokens per request and upstream: signed once, read by the executor's header function. */
const tokens = new WeakMap<Request, Map<string, string>>();

/** Every upstream's scopes joined to the built-in catalogue, each once. */
function catalogueOf(rules: readonly UpstreamRules[]): PermissionCatalogue {
  const seen = new Set(BUILT_IN_CATALOGUE.names);
  const extension: PermissionDefinition[] = [];
  for (const definition of rules.flatMap((r) => r.definitions)) {
    if (seen.has(definition.name)) continue;
    seen.add(definition.name);
    extension.push(definition);
  }
  return new PermissionCatalogue(
    extension,
    rules.flatMap((r) => r.publicReads),
  );
}

export interface GatewayOptions {
  /** The `KEYGATE_UPSTREAMS` file; null serves Keygate's own schema alone. */
  upstreamsFile: string | null;
  local: GraphQLSchema;
  identity: IdentityTokens | null;
  logger: Logger;
  db: Kysely<Database>;
  /** Tells the other instances to reload when this one loaded something new (PostgreSQL). */
  notifications: Notifications;
  /** Runs after a new catalogue takes effect (the key cache forgets grants computed with the old one). */
  onCatalogueChange?: () => void;
}

/** Other instances reload when one of them loaded something new (SIGHUP on one reaches all). */
const RELOADED_CHANNEL = 'keygate_upstreams_reloaded';

/**
 * Keygate as a gateway (SPEC §9): the upstreams of `KEYGATE_UPSTREAMS`, their
 * SDL, the schema served with Keygate's own, and the permission catalogue
 * their scopes join. `reload()` builds everything anew and swaps it in only
 * when all of it worked; a failed reload keeps the last good state.
 */
export class Gateway {
  #state: GatewayState;
  #file: UpstreamsFile | null = null;
  #reloading: Promise<boolean> | null = null;
  #timers: NodeJS.Timeout[] = [];

  readonly #instance = randomUUID();

  constructor(private readonly options: GatewayOptions) {
    this.#state = { schema: options.local, catalogue: BUILT_IN_CATALOGUE, upstreams: [], passthrough: null };
    if (options.upstreamsFile) {
      options.notifications.subscribe(RELOADED_CHANNEL, {
        message: (from) => {
          if (from !== this.#instance) void this.reload('another instance reloaded', false);
        },
        lost: () => {},
        // A reload missed while notifications were down is caught up at once.
        restored: () => void this.reload('cross-instance notifications restored', false),
      });
    }
  }

  /** Whether the served schema can change (upstreams reload); without upstreams it is Keygate's own, always. */
  get reloads(): boolean {
    return this.options.upstreamsFile !== null;
  }

  get schema(): GraphQLSchema {
    return this.#state.schema;
  }

  get catalogue(): PermissionCatalogue {
    return this.#state.catalogue;
  }

  /** Signs identity tokens and serves their public keys; null without upstreams. */
  get identity(): IdentityTokens | null {
    return this.options.identity;
  }

  get state(): GatewayState {
    return this.#state;
  }

  /** Loads the upstreams for the first time; throws (naming file, upstream and field) when anything is wrong. */
  async start(): Promise<void> {
    if (!this.options.upstreamsFile) return;
    this.#state = await this.build();
    this.options.onCatalogueChange?.();
    // One reload serves every upstream: it runs as often as the most eager one asks.
    const periods = (this.#file?.upstreams ?? []).map((u) => u.reloadSeconds).filter((s) => s > 0);
    if (periods.length) {
      const seconds = Math.min(...periods);
      const timer = setInterval(() => void this.reload(`every ${seconds}s`), seconds * 1000);
      timer.unref();
      this.#timers.push(timer);
    }
  }

  /** Builds the state anew; swaps it in when it all worked, keeps the last good one otherwise. Resolves whether it changed. */
  reload(reason: string, tellOthers = true): Promise<boolean> {
    this.#reloading ??= (async () => {
      try {
        const next = await this.build();
        const changed =
          !sameCatalogue(next.catalogue, this.#state.catalogue) || next.upstreams.length !== this.#state.upstreams.length;
        this.#state = next;
        this.options.onCatalogueChange?.();
        this.options.logger.info({ reason, upstreams: next.upstreams.map((u) => u.name) }, 'upstreams reloaded');
        if (changed && tellOthers) {
          await this.options.notifications
            .notify(this.options.db, RELOADED_CHANNEL, this.#instance)
            .catch((err) => this.options.logger.warn({ err }, 'could not tell other instances to reload'));
        }
        return changed;
      } catch (error) {
        this.options.logger.error({ reason, err: error }, 'upstream reload failed; serving the last good schema');
        return false;
      } finally {
        this.#reloading = null;
      }
    })();
    return this.#reloading;
  }

  private async build(): Promise<GatewayState> {
    const file = this.options.upstreamsFile!;
    this.#file = readUpstreamsFile(file);
    const loaded = await Promise.all(
      this.#file.upstreams.map((u) => this.load(u).catch((error: unknown) => Promise.reject(naming(file, u, error)))),
    );
    let schema: GraphQLSchema;
    try {
      schema = buildGatewaySchema(this.options.local, loaded);
    } catch (error) {
      throw naming(file, null, error);
    }
    return {
      schema,
      catalogue: catalogueOf(loaded.map((u) => u.rules)),
      upstreams: loaded.map((u) => ({ name: u.name, rules: u.rules })),
      passthrough: loaded.length ? new Passthrough(schema, this.options.local, loaded) : null,
    };
  }

  private async load(upstream: UpstreamConfig): Promise<LoadedUpstream> {
    const { schema, rules } = await readUpstream(upstream, this.options.logger);
    const client = upstreamClient(upstream, this.options.logger);
    const forwarded = upstream.forwardHeaders;
    /** What an upstream request carries: the headers it may forward and this request's identity token, nothing else. */
    const headersFor = (ctx: RequestContext): Record<string, string> => {
      const headers: Record<string, string> = {};
      for (const name of forwarded) {
        const value = ctx.request.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      const token = tokens.get(ctx.request)?.get(upstream.name);
      if (token) headers.authorization = `Bearer ${token}`;
      return headers;
    };
    const send = buildHTTPExecutor({
      endpoint: upstream.url,
      fetch: client.fetch,
      deduplicateInflightRequests: false,
      headers: (request) => {
        const ctx = request?.context as RequestContext | undefined;
        return ctx ? headersFor(ctx) : {};
      },
    });
    const beforeSend = async (ctx: RequestContext): Promise<void> => {
      let mine = tokens.get(ctx.request);
      if (!mine) {
        mine = new Map();
        tokens.set(ctx.request, mine);
      }
      if (mine.has(upstream.name) || !this.options.identity) return;
      const caller = await upstreamCallerOf(ctx);
      mine.set(upstream.name, this.options.identity.sign(upstream.name, { ...caller.claims, jti: ctx.requestId }));
    };
    const post = async (ctx: RequestContext, body: string): Promise<UpstreamAnswer> => {
      await beforeSend(ctx);
      return client.post(body, headersFor(ctx));
    };
    const share = upstream.deduplicate ? new InflightShare<UpstreamAnswer>(MAX_SHARED_INFLIGHT) : null;
    return {
      name: upstream.name,
      schema,
      rules,
      send,
      post: (ctx, operation, query) => {
        const body = JSON.stringify(operation);
        const caller = settledCallerOf(ctx);
        if (!share || !query || !caller) return post(ctx, body);
        // Everything the upstream could answer differently on (see upstream.share.ts): what is sent, but for the
        // token's jti and times, which differ per request.
        const forwardedValues = forwarded.map((name) => ctx.request.headers.get(name));
        const key = `${body}\n${JSON.stringify(forwardedValues)}\n${JSON.stringify(caller.claims)}`;
        return share.run(key, () => post(ctx, body));
      },
      // An answer without data the passthrough already got is this request's answer: not asked for twice.
      executor: (request) => answeredWithoutData(request.context as RequestContext | undefined, upstream.name) ?? send(request),
      beforeSend,
    };
  }

  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }
}

/**
 * An upstream's failure names the upstreams file (and the SDL file the
 * upstream reads), whatever part of loading failed (SPEC §9: the file, the
 * upstream and the field).
 */
function naming(file: string, upstream: UpstreamConfig | null, error: unknown): unknown {
  if (!(error instanceof Error) || error.message.startsWith(file)) return error;
  const sdl = upstream?.schema.kind === 'file' ? ` (SDL ${upstream.schema.path})` : '';
  error.message = `${file}${sdl}: ${error.message}`;
  return error;
}

function sameCatalogue(a: PermissionCatalogue, b: PermissionCatalogue): boolean {
  return a.names.length === b.names.length && a.names.every((n, i) => n === b.names[i]);
}

/** The upstream's SDL: its file, or its Federation `_service { sdl }` within its timeout. */
async function sdlOf(upstream: UpstreamConfig, logger: Logger): Promise<string> {
  if (upstream.schema.kind === 'file') return fs.readFileSync(upstream.schema.path, 'utf8');
  const { result } = (await upstreamClient(upstream, logger).post(JSON.stringify({ query: SDL_QUERY }), {})) as {
    result: {
      data?: { _service?: { sdl?: unknown } } | null;
      errors?: { message: string }[];
    };
  };
  const sdl = result.data?._service?.sdl;
  if (typeof sdl !== 'string') {
    const why = result.errors?.[0]?.message ?? 'no _service.sdl in the answer';
    throw new UpstreamSchemaError(`upstream "${upstream.name}": could not read its SDL through { _service { sdl } }: ${why}`);
  }
  return sdl;
}

/** One upstream's schema as Keygate serves it, and the rules its SDL declares. */
export async function readUpstream(
  upstream: UpstreamConfig,
  logger: Logger,
): Promise<{ schema: GraphQLSchema; rules: UpstreamRules }> {
  const sdl = await sdlOf(upstream, logger);
  const schema = buildUpstreamSchema(upstream.name, applyDefaultDeny(upstream.name, cleanUpstreamSdl(upstream.name, sdl)));
  return { schema, rules: upstreamRules(upstream.name, schema) };
}

/** What `keygate upstream check` reports: per upstream its root fields and scopes, or what is wrong. */
export interface UpstreamCheck {
  file: string;
  upstreams: { name: string; error: string | null; rootFields: string[]; scopes: readonly PermissionDefinition[] }[];
  collision: string | null;
}

/** Loads the file and every upstream's SDL, as a start would, and reports instead of throwing. */
export async function checkUpstreams(file: string, local: GraphQLSchema, logger: Logger): Promise<UpstreamCheck> {
  const config = readUpstreamsFile(file);
  const read = await Promise.all(
    config.upstreams.map(async (u) => {
      try {
        return { config: u, ...(await readUpstream(u, logger)), error: null };
      } catch (error) {
        return { config: u, schema: null, rules: null, error: (error as Error).message };
      }
    }),
  );
  let collision: string | null = null;
  try {
    assertNoCollisions([
      { name: 'Keygate', schema: local },
      ...read.flatMap((r) => (r.schema ? [{ name: `upstream "${r.config.name}"`, schema: r.schema }] : [])),
    ]);
  } catch (error) {
    collision = (error as Error).message;
  }
  return {
    file: config.file,
    upstreams: read.map((r) => ({
      name: r.config.name,
      error: r.error,
      rootFields: r.rules ? [...r.rules.fields.keys()].filter((c) => c.startsWith('Query.') || c.startsWith('Mutation.')) : [],
      scopes: r.rules?.definitions ?? [],
    })),
    collision,
  };
}
