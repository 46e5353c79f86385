import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { badInput } from '../../shared/errors.js';

/**
 * Where a webhook may be delivered (SPEC §10): `https://` to addresses on the
 * public internet only. The rule is checked when an endpoint is created or
 * changed and again when each attempt connects (DNS answers change: a name
 * that resolved to a public address at creation may point inside later), by
 * the same address policy. `KEYGATE_WEBHOOK_ALLOW_PRIVATE=true` lifts both
 * the scheme and the address rules, for development and tests.
 *
 * The address ranges are Node's own `net.BlockList`; what is listed here is
 * the policy: loopback, private, shared (CGNAT), link-local (where cloud
 * metadata services live), unspecified, multicast and reserved ranges, their
 * IPv6 counterparts, and IPv4 addresses written as IPv6.
 */
const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  // AWS's IPv6 instance metadata service.
  ['fd00:ec2::', 32],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv6');
}

/** Whether an address is on the public internet (an IPv4 address written as IPv6 is judged as IPv4). */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return isPublicAddress(mapped[1]!);
    // ::ffff:0:0/96 in hexadecimal form, and the deprecated IPv4-compatible ::/96.
    if (/^::(ffff:)?[0-9a-f]{1,4}:[0-9a-f]{1,4}$/i.test(address)) return false;
    return !BLOCKED.check(address, 'ipv6');
  }
  return !BLOCKED.check(address, 'ipv4');
}

export interface UrlPolicy {
  /** KEYGATE_WEBHOOK_ALLOW_PRIVATE: any scheme of http(s) and any address. */
  allowPrivate: boolean;
  /** DNS resolution (tests replace it); the system resolver by default. */
  lookup?: (hostname: string) => Promise<LookupAddress[]>;
}

const resolveAll = (hostname: string) =>
  new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

const MAX_URL_LENGTH = 2048;

/**
 * A webhook URL as Keygate accepts it, or `BAD_USER_INPUT` on `url` saying
 * why (the message never repeats credentials the URL carried).
 */
export async function checkWebhookUrl(raw: string, policy: UrlPolicy): Promise<URL> {
  if (raw.length > MAX_URL_LENGTH) throw badInput('url', `must be at most ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badInput('url', 'is not an absolute URL.');
  }
  const schemes = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) throw badInput('url', `must be ${policy.allowPrivate ? 'http(s)' : 'https'}://.`);
  if (url.username || url.password) throw badInput('url', 'must not carry credentials.');
  if (url.hash) throw badInput('url', 'must not have a #fragment.');
  if (policy.allowPrivate) return url;
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  try {
    addresses = await (policy.lookup ?? resolveAll)(hostname);
  } catch {
    throw badInput('url', `host ${hostname} does not resolve.`);
  }
  if (addresses.length === 0) throw badInput('url', `host ${hostname} does not resolve.`);
  const inside = addresses.find((a) => !isPublicAddress(a.address));
  if (inside) throw badInput('url', `host ${hostname} resolves to ${inside.address}, which is not a public address.`);
  return url;
}

/** Raised by `guardedLookup` when a delivery's host resolves inside; the attempt fails without connecting. */
export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDRESS';
}

/**
 * A `lookup` for `http(s).request` that refuses, at connection time, a host
 * any of whose addresses is not public: the check and the connection use the
 * same DNS answer, so a rebinding name cannot slip between them.
 */
export function guardedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      const inside = policy.allowPrivate ? undefined : list.find((a) => !isPublicAddress(a.address));
      if (inside || list.length === 0) {
        return callback(new PrivateAddressError(`${hostname} resolves to a non-public address`), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/**
 * Why an attempt to this URL is refused before any connection, or null: the
 * part of the policy `guardedLookup` cannot see, because Node connects to a
 * host written as an IP address without a lookup. Said in Keygate's words,
 * for the delivery record.
 */
export function refusalBeforeConnect(url: URL, policy: UrlPolicy): string | null {
  if (policy.allowPrivate) return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'refused: not http(s)';
  if (url.protocol !== 'https:') return 'refused: not https';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && !isPublicAddress(host)) return 'refused: a non-public address';
  return null;
}
