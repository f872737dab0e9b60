/**
 * Tells a torn tail from corruption (pure). Called when recovery meets a frame that fails its
 * length or checksum check at offset O of a segment, after scanning the rest of that segment for
 * frames that do validate ("after" frames).
 *
 * Why this works: the WAL writes one group-commit flush at a time (a durable O_DSYNC write, then
 * acknowledge, then the next flush), so a power cut can damage only the bytes of the last flush,
 * which nobody was told is durable. Every frame records its flush number and its position inside
 * that flush. Rule, applied only to the newest segment (older ones were fsynced before rotation,
 * so any damage there is corruption):
 *
 *   - no valid frame after O                                   -> torn tail
 *   - the last valid frame before O is not the last of its flush -> the damage lies inside that
 *     flush, so every valid frame after O must belong to it     -> torn tail, else corrupt
 *   - the last valid frame before O ends its flush               -> the damage lies in the next
 *     flush, so every valid frame after O must carry that number  -> torn tail, else corrupt
 *   - nothing valid before O (damage at offset 0 of the only segment): torn tail iff every valid
 *     frame after O carries one flush number.
 *
 * Limitation (documented in src/storage/README.md): bit rot inside the very last flush of the newest
 * segment looks exactly like a torn write and is truncated with a warning; every earlier flush
 * is protected by the frames that follow it.
 */

export interface FlushPosition {
  flushSeq: number;
  flushPos: number;
  flushCount: number;
}

export type DamageVerdict = { kind: "torn" } | { kind: "corrupt"; reason: string };

export function classifyDamage(newestSegment: boolean, before: FlushPosition | null, after: FlushPosition[]): DamageVerdict {
  if (!newestSegment) {
    return { kind: "corrupt", reason: "damage in a segment that was completed and fsynced before a newer one began" };
  }
  if (after.length === 0) return { kind: "torn" };
  let expected: number;
  if (before === null) {
    expected = after[0]!.flushSeq;
  } else if (before.flushPos < before.flushCount - 1) {
    expected = before.flushSeq;
  } else {
    expected = before.flushSeq + 1;
  }
  for (const frame of after) {
    if (frame.flushSeq !== expected) {
      return {
        kind: "corrupt",
        reason: `valid records of flush ${frame.flushSeq} follow the damage, which lies in flush ${expected}: an acknowledged flush is damaged`,
      };
    }
  }
  return { kind: "torn" };
}
