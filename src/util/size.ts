import { InvalidArgumentError, describe } from '../errors.js';

const kMultipliers: Record<string, number> = {
  '': 1,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
};

/**
 * Parses a byte size such as `8G`, `512M`, `1.5GiB`, `4096` or `2gb`. Suffixes are binary
 * (K = 1024), case-insensitive, with an optional `i` and `B`.
 */
export function parseSize(text: string | number, what = 'size'): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text > 0) return Math.floor(text);
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be a positive number of bytes, got ${describe(text)}`,
    );
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(String(text));
  if (m === null) {
    throw new InvalidArgumentError(
      `Expected \`${what}\` to be a byte size like 8G, 512M or 1073741824, got ${describe(text)}`,
    );
  }
  const bytes = Math.floor(Number(m[1]) * (kMultipliers[(m[2] ?? '').toUpperCase()] ?? 1));
  if (!(bytes > 0))
    throw new InvalidArgumentError(`Expected \`${what}\` to be positive, got ${describe(text)}`);
  return bytes;
}

/** Formats bytes for people: `1.5 GiB`, `320 B`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}
