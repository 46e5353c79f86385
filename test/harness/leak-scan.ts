import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Global setup of the test run: starts with an empty scan folder and, after
 * every test file of every project has finished, searches every log line any
 * test Keygate wrote for every secret the tests saw (key secrets, session
 * tokens, signing secrets). One leaked secret fails the run.
 */
const dir = path.resolve(import.meta.dirname, '../..', process.env.KEYGATE_LEAK_SCAN_DIR ?? 'test-output/leak-scan/adhoc');
let scanned = false;

export function setup(): void {
  mkdirSync(dir, { recursive: true });
}

export function teardown(): void {
  // Every project registers this setup; the run's files are complete at the first teardown.
  if (scanned || !existsSync(dir)) return;
  scanned = true;
  const files = readdirSync(dir);
  const logs = files.filter((f) => f.endsWith('.log')).map((f) => readFileSync(path.join(dir, f), 'utf8'));
  const secrets = new Set(
    files
      .filter((f) => f.endsWith('.secrets'))
      .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n'))
      .filter((s) => s.length >= 32),
  );
  const lines = logs.reduce((n, log) => n + log.split('\n').length, 0);
  const leaked = [...secrets].filter((secret) => logs.some((log) => log.includes(secret)));
  if (leaked.length) {
    throw new Error(
      `Secret leak: ${leaked.length} of ${secrets.size} secrets appear in the captured logs (e.g. ${leaked[0]!.slice(0, 12)}…).`,
    );
  }
  console.log(`\n  Leak scan: ${secrets.size} secrets searched in ${lines} captured log lines: none found.\n`);
  rmSync(dir, { recursive: true, force: true });
}
