/** Every value a request header was sent with, one per line, in order; empty when it was not sent. */
export type HeaderLines = (name: string) => readonly string[];

/**
 * The header lines of a request as they came off the wire. Node keeps only
 * the first of repeated `Authorization` lines and joins repeated custom ones
 * (`X-API-Key: a, b`), and the Fetch `Headers` Yoga builds from that cannot
 * tell either from one line; a proxy in front may have checked or logged
 * another line. So credentials are read from the Node request's
 * `rawHeaders` when there is one (a real HTTP server), and from `Headers`
 * otherwise (yoga.fetch, which cannot send a header twice). Node's header
 * size limit bounds the scan.
 */
export function headerLinesOf(request: Request, serverContext: unknown): HeaderLines {
  const raw = (serverContext as { req?: { rawHeaders?: unknown } } | null | undefined)?.req?.rawHeaders;
  if (!Array.isArray(raw)) {
    return (name) => {
      const value = request.headers.get(name);
      return value === null ? [] : [value];
    };
  }
  return (name) => {
    const lines: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const key = raw[i];
      if (typeof key === 'string' && key.length === name.length && key.toLowerCase() === name) lines.push(String(raw[i + 1]));
    }
    return lines;
  };
}
