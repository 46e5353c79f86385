import fs from 'node:fs';
import path from 'node:path';

/** Where an upstream's SDL comes from (SPEC §9): a file, or the upstream's Federation `_service { sdl }`. */
export type SchemaSource = { kind: 'file'; path: string } | { kind: 'federation' };

/** One upstream GraphQL service behind Keygate, as the operator declared it. */
export interface UpstreamConfig {
  name: string;
  url: string;
  schema: SchemaSource;
  timeoutMs: number;
  /** 0: only on SIGHUP. */
  reloadSeconds: number;
  /** Client headers passed on (lower case); credentials are never among them. */
  forwardHeaders: readonly string[];
  /** Largest upstream response body read, in bytes (bigger answers are UPSTREAM_UNAVAILABLE). */
  maxResponseBytes: number;
  /** Identical queries of one identity in flight at once share one upstream request (upstream.share.ts); default true. */
  deduplicate: boolean;
}

export interface UpstreamsFile {
  file: string;
  upstreams: readonly UpstreamConfig[];
}

const NAME = /^[a-z][a-z0-9_]{0,31}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RELOAD_SECONDS = 60;
export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;

/**
 * Headers that carry the caller's identity or the connection: never
 * forwarded, whatever the file says, because upstreams learn who calls only
 * from Keygate's identity token.
 */
const NEVER_FORWARDED = new Set([
  'authorization',
  'x-api-key',
  'x-customer-token',
  'x-customer-key',
  'cookie',
  'x-keygate-environment',
  'host',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
]);

/** A configuration problem, naming the file and, where it applies, the upstream and the setting. */
export class UpstreamConfigError extends Error {}

type Json = Record<string, unknown>;

function fail(file: string, where: string, message: string): never {
  throw new UpstreamConfigError(`${file}: ${where}${message}`);
}

function positiveWhole(value: unknown, fallback: number, file: string, where: string, setting: string, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    fail(file, where, `${setting} must be a whole number of at least ${min}, got ${JSON.stringify(value)}.`);
  return value;
}

function parseUpstream(raw: unknown, index: number, file: string, seen: Set<string>): UpstreamConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(file, `upstreams[${index}]: `, 'must be an object.');
  const entry = raw as Json;
  const name = entry.name;
  if (typeof name !== 'string' || !NAME.test(name))
    fail(file, `upstreams[${index}]: `, `name must match ${NAME.source}, got ${JSON.stringify(name)}.`);
  const where = `upstream "${name}": `;
  if (seen.has(name)) fail(file, where, 'the name is used twice.');
  seen.add(name);
  const known = new Set([
    'name',
    'url',
    'schema',
    'timeoutMs',
    'reloadSeconds',
    'forwardHeaders',
    'maxResponseBytes',
    'deduplicate',
  ]);
  for (const k of Object.keys(entry)) if (!known.has(k)) fail(file, where, `unknown setting "${k}".`);

  let url: URL;
  try {
    url = new URL(String(entry.url));
  } catch {
    fail(file, where, `url must be an absolute http(s) URL, got ${JSON.stringify(entry.url)}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(file, where, 'url must use http or https.');
  if (url.username || url.password) fail(file, where, 'url must not carry credentials.');

  const schema = entry.schema as Json | undefined;
  let source: SchemaSource;
  if (schema && typeof schema === 'object' && schema.federation === true && schema.file === undefined) {
    source = { kind: 'federation' };
  } else if (schema && typeof schema === 'object' && typeof schema.file === 'string' && schema.federation === undefined) {
    const resolved = path.resolve(path.dirname(file), schema.file);
    if (!fs.existsSync(resolved)) fail(file, where, `schema file ${resolved} does not exist.`);
    source = { kind: 'file', path: resolved };
  } else {
    fail(file, where, 'schema must be { "file": "<path>" } or { "federation": true }.');
  }

  const forward = entry.forwardHeaders ?? [];
  if (!Array.isArray(forward) || forward.some((h) => typeof h !== 'string' || !HEADER_NAME.test(h.toLowerCase())))
    fail(file, where, 'forwardHeaders must be a list of header names.');
  const forwardHeaders = (forward as string[]).map((h) => h.toLowerCase());
  const refused = forwardHeaders.filter((h) => NEVER_FORWARDED.has(h));
  if (refused.length) fail(file, where, `forwardHeaders may not name ${refused.join(', ')}: credentials never leave Keygate.`);

  const deduplicate = entry.deduplicate ?? true;
  if (typeof deduplicate !== 'boolean')
    fail(file, where, `deduplicate must be true or false, got ${JSON.stringify(deduplicate)}.`);

  return {
    name,
    url: url.toString(),
    schema: source,
    timeoutMs: positiveWhole(entry.timeoutMs, DEFAULT_TIMEOUT_MS, file, where, 'timeoutMs', 1),
    reloadSeconds: positiveWhole(entry.reloadSeconds, DEFAULT_RELOAD_SECONDS, file, where, 'reloadSeconds', 0),
    forwardHeaders: [...new Set(forwardHeaders)],
    maxResponseBytes: positiveWhole(entry.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES, file, where, 'maxResponseBytes', 1024),
    deduplicate,
  };
}

/** Reads and checks the `KEYGATE_UPSTREAMS` file (paths inside it are relative to it). */
export function readUpstreamsFile(file: string): UpstreamsFile {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new UpstreamConfigError(`${absolute}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UpstreamConfigError(`${absolute}: not valid JSON (${(error as Error).message}).`);
  }
  const upstreams = (parsed as Json | null)?.upstreams;
  if (!Array.isArray(upstreams)) fail(absolute, '', 'must be {"upstreams": [...]}.');
  const seen = new Set<string>();
  return { file: absolute, upstreams: upstreams.map((u, i) => parseUpstream(u, i, absolute, seen)) };
}
