import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newSigningSecret, signatureHeaders } from '../../src/modules/webhook/webhook.signing.js';
import { checkWebhookUrl, isPublicAddress } from '../../src/modules/webhook/webhook.url.js';

/** SPEC §10's address policy and Standard Webhooks signatures, checked by the third-party verifier. */
describe('webhook addresses', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:7f00:1',
    'ff02::1',
  ])('refuses %s (not public)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.216.34', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'accepts %s (public)',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );

  const resolvingTo = (...addresses: string[]) => ({
    allowPrivate: false,
    lookup: async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
  });

  it('accepts an https URL whose every address is public', async () => {
    expect((await checkWebhookUrl('https://hooks.example.com/keygate', resolvingTo('93.184.216.34'))).hostname).toBe(
      'hooks.example.com',
    );
  });

  it.each([
    ['http://hooks.example.com/x', resolvingTo('93.184.216.34'), /must be https/],
    ['ftp://hooks.example.com/x', resolvingTo('93.184.216.34'), /must be https/],
    ['not a url', resolvingTo('93.184.216.34'), /not an absolute URL/],
    ['https://user:hunter2@hooks.example.com/x', resolvingTo('93.184.216.34'), /must not carry credentials/],
    [
      'https://inside.example.com/x',
      resolvingTo('93.184.216.34', '10.0.0.5'),
      /resolves to 10\.0\.0\.5, which is not a public address/,
    ],
    ['https://169.254.169.254/latest/meta-data', resolvingTo('169.254.169.254'), /not a public address/],
    ['https://[::1]/x', resolvingTo('::1'), /not a public address/],
  ])('refuses %s with BAD_USER_INPUT on url', async (url, policy, message) => {
    const error = await checkWebhookUrl(url, policy).catch((e: unknown) => e);
    expect(error).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'url' } });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('refuses a host that does not resolve', async () => {
    const policy = { allowPrivate: false, lookup: () => Promise.reject(new Error('ENOTFOUND')) };
    await expect(checkWebhookUrl('https://nowhere.invalid/x', policy)).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('lets development and tests use http and private addresses when allowed', async () => {
    const url = await checkWebhookUrl('http://127.0.0.1:9999/hook', { allowPrivate: true });
    expect(url.port).toBe('9999');
  });
});

describe('webhook signatures', () => {
  it('verify with the standardwebhooks package, with either secret while two sign', () => {
    const [current, previous] = [newSigningSecret(), newSigningSecret()];
    expect(current).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const body = JSON.stringify({ type: 'webhook.test', timestamp: new Date().toISOString(), data: {} });
    const headers = signatureHeaders([current, previous], 'wev_01JD000000000000000000000A', new Date(), body);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [current, previous]) expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(newSigningSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(current).verify(`${body} `, headers)).toThrow();
  });
});
