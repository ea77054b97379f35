/**
 * Deterministic randomness for the simulator. Every record is drawn from its own small generator
 * seeded by (account seed, stream, index), so any record can be rebuilt alone, in any order, and
 * the same seed always gives the same bytes.
 */

/** A 32-bit integer hash of the arguments (murmur3 finaliser over a running mix). */
export function hash32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    // split so ids above 2^32 still contribute all their bits
    const lo = part >>> 0;
    const hi = Math.floor(part / 4294967296) >>> 0;
    h = Math.imul(h ^ lo, 0x85ebca6b);
    h = (h << 13) | (h >>> 19);
    h = Math.imul(h ^ hi, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A float in [0, 1) from hash32 of the arguments. */
export function unit(...parts: number[]): number {
  return hash32(...parts) / 4294967296;
}

/** A sequential generator (mulberry32): floats in [0, 1). */
export interface Rng {
  (): number;
}

export function rng(...seedParts: number[]): Rng {
  let state = hash32(...seedParts);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function intBelow(r: Rng, n: number): number {
  return Math.floor(r() * n);
}

export function pick<T>(r: Rng, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)];
}

/** Hex string of the given length, e.g. for statement and client keys. */
export function hex(r: Rng, length: number): string {
  let out = '';
  while (out.length < length)
    out += Math.floor(r() * 4294967296)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, length);
}

/** Rounds to two decimals without float noise such as 2.5800000000000001. */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
