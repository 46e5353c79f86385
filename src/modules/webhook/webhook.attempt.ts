import http from 'node:http';
import https from 'node:https';
import { LRUCache } from 'lru-cache';
import { guardedLookup, PrivateAddressError, refusalBeforeConnect, type UrlPolicy } from './webhook.url.js';

/** What one POST to a receiver came to. `error` is Keygate's own words: never the response body, never a secret. */
export interface AttemptOutcome {
  succeeded: boolean;
  /** The HTTP status; null when no answer came. */
  responseStatus: number | null;
  error: string | null;
  /** The answer's `Retry-After` header, as sent. */
  retryAfter: string | undefined;
}

export interface AttemptLimits {
  policy: UrlPolicy;
  /** For the whole attempt: connection, request and the answer's headers. */
  timeoutMs: number;
  /** Bytes of an answer's body read (and dropped) so the connection can be reused; past this the connection is closed. */
  maxResponseBytes: number;
}

const USER_AGENT = 'Keygate-Webhooks';

/**
 * Keep-alive agents, one per origin, least recently used dropped first (its
 * idle sockets closed). Each holds at most `maxSockets` connections, keeps
 * at most `maxFreeSockets` idle, and closes idle ones after `idleMs`.
 */
export class OriginAgents {
  private readonly agents: LRUCache<string, http.Agent>;

  constructor(private readonly options: { maxOrigins: number; maxSockets: number; maxFreeSockets: number; idleMs: number }) {
    this.agents = new LRUCache({ max: options.maxOrigins, dispose: (agent) => agent.destroy() });
  }

  for(url: URL): http.Agent {
    let agent = this.agents.get(url.origin);
    if (!agent) {
      const settings = {
        keepAlive: true,
        maxSockets: this.options.maxSockets,
        maxFreeSockets: this.options.maxFreeSockets,
        timeout: this.options.idleMs,
      };
      agent = url.protocol === 'https:' ? new https.Agent(settings) : new http.Agent(settings);
      this.agents.set(url.origin, agent);
    }
    return agent;
  }

  close(): void {
    this.agents.clear();
  }
}

/**
 * POSTs `body` to `url` once. Redirects are not followed (a 3xx fails the
 * attempt); the address is checked where the connection is made
 * (`guardedLookup`), so a name that now resolves inside is refused without
 * a connection; the answer's body is read up to a bound, never buffered,
 * and a longer one closes the connection. Resolves, never rejects;
 * `signal` aborts the attempt (shutdown) and resolves with `aborted`.
 */
export function sendAttempt(
  request: { url: URL; body: string; headers: Record<string, string> },
  limits: AttemptLimits,
  agents: OriginAgents,
  io: { signal: AbortSignal; onBodyBytes: (bytes: number) => void },
): Promise<AttemptOutcome> {
  const refusal = refusalBeforeConnect(request.url, limits.policy);
  if (refusal) return Promise.resolve(failure(null, refusal));
  return new Promise((resolve) => {
    let answer: AttemptOutcome | null = null;
    let settled = false;
    /** Settles once; the connection is closed unless the answer was read to its end (then the agent keeps it). */
    const finish = (outcome: AttemptOutcome, reusable = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal.removeEventListener('abort', onAbort);
      if (!reusable) req.destroy();
      resolve(outcome);
    };
    const client = request.url.protocol === 'https:' ? https : http;
    const req = client.request(request.url, {
      method: 'POST',
      agent: agents.for(request.url),
      lookup: guardedLookup(limits.policy),
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(request.body)),
        'user-agent': USER_AGENT,
        ...request.headers,
      },
    });
    const seconds = limits.timeoutMs / 1000;
    const timer = setTimeout(() => finish(answer ?? failure(null, `timeout after ${seconds} s`)), limits.timeoutMs);
    const onAbort = () => finish(failure(null, 'aborted: Keygate is shutting down'));
    io.signal.addEventListener('abort', onAbort);
    req.on('error', (error) => finish(answer ?? failure(null, connectionError(error))));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const retryAfter = headerValue(res.headers['retry-after']);
      answer =
        status >= 200 && status < 300
          ? { succeeded: true, responseStatus: status, error: null, retryAfter: undefined }
          : {
              ...failure(status, status >= 300 && status < 400 ? `redirect not followed (${status})` : `HTTP ${status}`),
              retryAfter,
            };
      // The outcome is known; the body is read only so that a short one leaves the connection reusable.
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        io.onBodyBytes(chunk.length);
        if (read > limits.maxResponseBytes) finish(answer!);
      });
      res.on('end', () => finish(answer!, true));
      res.on('error', () => finish(answer!));
      res.on('aborted', () => finish(answer!));
    });
    if (io.signal.aborted) onAbort();
    else req.end(request.body);
  });
}

function failure(responseStatus: number | null, error: string): AttemptOutcome {
  return { succeeded: false, responseStatus, error, retryAfter: undefined };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const CONNECTION_ERRORS: Record<string, string> = {
  ENOTFOUND: 'host does not resolve',
  EAI_AGAIN: 'host does not resolve (DNS unavailable)',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** A failed connection in Keygate's words: the error's code, never its message (which may repeat the URL). */
function connectionError(error: Error & { code?: string }): string {
  if (error instanceof PrivateAddressError || error.code === 'EPRIVATEADDRESS')
    return 'refused: resolves to a non-public address';
  const code = typeof error.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(error.code) ? error.code : null;
  if (code && CONNECTION_ERRORS[code]) return CONNECTION_ERRORS[code];
  if (code && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO|DEPTH_ZERO|^EPROTO$/.test(code)) return `TLS handshake failed (${code})`;
  if (error.message === 'socket hang up') return 'connection closed without an answer';
  return `connection failed${code ? ` (${code})` : ''}`;
}
