const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `90s`, `15m`, `12h`, `7d` (or bare seconds) into seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`Invalid duration "${text}": use seconds or e.g. 30m, 12h, 7d.`);
  return Number(match[1]) * (UNITS[match[2] || 's'] ?? 1);
}
