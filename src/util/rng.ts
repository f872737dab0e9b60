/**
 * Deterministic pseudo-random numbers. All randomness in raftmq's pure modules comes through the
 * Rng interface so that a seed reproduces a run exactly (STYLE.md §2). The runtime seeds one from
 * the OS at start; the simulator derives every node's Rng from the run's seed.
 */
import { assert } from "./assert";

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform integer in [0, bound). */
  nextInt(bound: number): number;
  /** Uniform float in [0, 1). */
  nextFloat(): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
}

/** sfc32 (Chris Doty-Humphrey's small fast counting generator), seeded through splitmix32. */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), "rng seed must be a safe integer");
    let s = (seed ^ Math.floor(seed / 0x100000000)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t >>> 0;
  }

  nextInt(bound: number): number {
    assert(Number.isInteger(bound), "rng bound must be an integer");
    assert(bound > 0, "rng bound must be positive");
    assert(bound <= 0x100000000, "rng bound must fit in 32 bits");
    // Rejection sampling keeps the distribution uniform for any bound.
    const limit = 0x100000000 - (0x100000000 % bound);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % bound;
    }
  }

  nextFloat(): number {
    return this.nextU32() / 0x100000000;
  }

  chance(p: number): boolean {
    return this.nextFloat() < p;
  }

  /** An independent generator derived from this one (for per-node streams). */
  fork(): SeededRng {
    return new SeededRng(this.nextU32() * 0x200000 + (this.nextU32() & 0x1fffff));
  }
}
