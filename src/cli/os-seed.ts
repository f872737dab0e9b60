/** A seed for SeededRng from the OS's randomness (processes differ; runs are not replayable). */
import crypto from "node:crypto";

export function osSeed(): number {
  return crypto.randomInt(0, 2 ** 48 - 1);
}
