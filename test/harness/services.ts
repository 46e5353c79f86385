import net from 'node:net';

/**
 * The servers some tests need (PostgreSQL for the suite's second run, Redis
 * for the shared rate limits) and what their absence means: under CI
 * (`CI=true`) the run fails, saying which one is missing; on a developer's
 * machine the tests that need it are skipped, saying so. Used by
 * vitest.config.ts and by the test files themselves.
 */

/** Whether this run is CI's: `CI` set to anything but empty, `0` or `false` (GitHub Actions and most CI set `CI=true`). */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

export interface ServiceCheck {
  /** It answered on its port. */
  up: boolean;
  /** Tests that need it are skipped: it is down and this is not CI. */
  skip: boolean;
  /** Throws, naming the service, unless it is up (CI's answer when it is down). */
  assertUp(): void;
}

/** Whether something answers on the host and port of `url`. */
function answers(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || defaultPort), timeout: 1500 });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * Checks a service that `what` (some tests) need; when it is down, warns
 * that they are skipped, or (CI) that they fail. `wanted: false` is a
 * developer's explicit opt-out: skipped, saying so, but still a failure
 * under CI.
 */
export async function checkService(
  name: string,
  url: string,
  defaultPort: number,
  what: string,
  options: { wanted?: boolean } = {},
): Promise<ServiceCheck> {
  const ci = inCI();
  const where = new URL(url).host;
  const wanted = options.wanted ?? true;
  const up = wanted && (await answers(url, defaultPort));
  const reason = wanted ? `${name} not reachable at ${where}` : `${name} switched off for this run`;
  if (!up) {
    console.warn(
      ci
        ? `\n  ${reason}: FAILING ${what} (CI=true: a missing ${name} fails the run instead of skipping).\n`
        : `\n  ${reason}: SKIPPING ${what} (CI=true would fail the run instead).\n`,
    );
  }
  return {
    up,
    skip: !up && !ci,
    assertUp() {
      if (!up) throw new Error(`${reason}: CI=true requires ${what}.`);
    },
  };
}
