/**
 * In-flight sharing of identical upstream queries (Hive Gateway's
 * `deduplicateInflightRequests`, on by default there too, and Hive Router's
 * outbound dedupe). While one query is on its way to an upstream, an
 * identical one waits for that answer instead of being sent again.
 *
 * "Identical" is decided by the caller of `run`, and for the gateway it
 * means everything the upstream could answer differently on: the document as
 * sent, its variables and operation name, the forwarded header values, and
 * the identity token's claims but for `jti` and its times (the same key or
 * user, environment, scopes and customer). Two callers with different
 * identities never share. Only queries are shared, never mutations.
 *
 * Bounded: at most `limit` distinct queries are in flight at once; past
 * that, requests go out unshared. An entry lives only until its answer
 * arrives. Answers are shared read-only: nothing on the gateway's path
 * changes an upstream's result in place.
 */
export class InflightShare<T> {
  readonly #inflight = new Map<string, Promise<T>>();

  constructor(private readonly limit: number) {}

  /** `send()`'s answer, or the answer of an identical request already in flight. */
  run(key: string, send: () => Promise<T>): Promise<T> {
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    if (this.#inflight.size >= this.limit) return send();
    const started = send();
    this.#inflight.set(key, started);
    const done = () => this.#inflight.delete(key);
    started.then(done, done);
    return started;
  }
}
