import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * The end-of-run secret leak scan. Test workers write into one folder per run
 * (KEYGATE_LEAK_SCAN_DIR, set by vitest.config.ts) every log line a Keygate
 * wrote, in-process (test/harness/keygate.ts) or as a `keygate` child process
 * (test/harness/processes.ts), and every secret the tests saw (key secrets,
 * session tokens, signing secrets). This module is also the run's global
 * setup: after every test file of every project has finished, it searches
 * every log line for every secret. One leaked secret fails the run.
 */
const dir = path.resolve(import.meta.dirname, '../..', process.env.KEYGATE_LEAK_SCAN_DIR ?? 'test-output/leak-scan/adhoc');
mkdirSync(dir, { recursive: true });
const scanId = `${process.pid}-${randomBytes(4).toString('hex')}`;
const secretsFile = path.join(dir, `${scanId}.secrets`);
/** Where a log line goes: the logs of in-process Keygates, or those of `keygate` processes (counted apart in the summary). */
const logFiles = { keygate: path.join(dir, `${scanId}.log`), process: path.join(dir, `${scanId}.process.log`) };

const KEY_SECRET = /(?:server|client)-[0-9A-Za-z]{49}/g;
const SIGNING_SECRET = /"signingSecret":"([0-9a-f]{64})"/g;
/** A webhook endpoint's Standard Webhooks secret (webhook.signing.ts). */
const WEBHOOK_SECRET = /whsec_[A-Za-z0-9+/]{32}/g;
const SESSION_TOKEN = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}/g;
/** Shorter strings are not secrets (and would match by chance). */
const MIN_SECRET_LENGTH = 32;

/** Remembers secrets for the end-of-run leak scan. */
export function rememberSecrets(...secrets: string[]): void {
  if (secrets.length) appendFileSync(secretsFile, `${secrets.join('\n')}\n`);
}

/** Remembers every key secret, session token, signing secret and webhook secret in a text a test received (a response, a command's output). */
export function rememberSecretsIn(text: string): void {
  rememberSecrets(
    ...(text.match(KEY_SECRET) ?? []),
    ...(text.match(SESSION_TOKEN) ?? []),
    ...(text.match(WEBHOOK_SECRET) ?? []),
    ...[...text.matchAll(SIGNING_SECRET)].map((m) => m[1]!),
  );
}

/** Adds log output (whole lines) to what the end-of-run scan searches. */
export function captureLog(text: string, from: keyof typeof logFiles = 'keygate'): void {
  if (text) appendFileSync(logFiles[from], text.endsWith('\n') ? text : `${text}\n`);
}

/** What this worker has captured so far for the scan (tests of the capture itself read it). */
export function capturedByThisWorker(): { logs: Record<keyof typeof logFiles, string>; secrets: string[] } {
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  return {
    logs: { keygate: read(logFiles.keygate), process: read(logFiles.process) },
    secrets: read(secretsFile).split('\n').filter(Boolean),
  };
}

let scanned = false;

export function setup(): void {
  mkdirSync(dir, { recursive: true });
}

export function teardown(): void {
  // Every project registers this setup; the run's files are complete at the first teardown.
  if (scanned || !existsSync(dir)) return;
  scanned = true;
  const files = readdirSync(dir);
  const logs = new Map(files.filter((f) => f.endsWith('.log')).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
  const secrets = new Set(
    files
      .filter((f) => f.endsWith('.secrets'))
      .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n'))
      .filter((s) => s.length >= MIN_SECRET_LENGTH),
  );
  const lineCount = (names: string[]) => names.reduce((n, f) => n + logs.get(f)!.split('\n').length - 1, 0);
  const lines = lineCount([...logs.keys()]);
  const processLines = lineCount([...logs.keys()].filter((f) => f.endsWith('.process.log')));
  const leaked = [...secrets].filter((secret) => [...logs.values()].some((log) => log.includes(secret)));
  if (leaked.length) {
    const where = [...logs].filter(([, log]) => log.includes(leaked[0]!)).map(([f]) => f);
    // Vitest reports an error thrown by a global teardown but still exits 0: the exit code is set here.
    process.exitCode = 1;
    throw new Error(
      `Secret leak: ${leaked.length} of ${secrets.size} secrets appear in the captured logs (e.g. ${leaked[0]!.slice(0, 12)}… in ${where.join(', ')}; folder ${dir} kept).`,
    );
  }
  console.log(
    `\n  Leak scan: ${secrets.size} secrets searched in ${lines} captured log lines (${processLines} of them from keygate processes): none found.\n`,
  );
  rmSync(dir, { recursive: true, force: true });
}
