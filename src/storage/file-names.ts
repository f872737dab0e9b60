/**
 * Names of the files in a data directory (pure). Numbers are zero-padded to 20 digits so that
 * names sort in numeric order.
 *
 *   wal-<segmentSeq>.seg            write-ahead log segment, segmentSeq = 1, 2, ...
 *   snap-<index>-<term>.snap        snapshot covering the log through <index>
 *   <any>.tmp                       a file being written; deleted on open (never renamed yet)
 *   <any>.corrupt                   a snapshot found damaged and set aside; ignored
 */
import { assert } from "../util/assert";

const DIGITS = 20;

function pad(value: number): string {
  assert(Number.isSafeInteger(value), "file name number is a safe integer");
  assert(value >= 0, "file name number is non-negative");
  return value.toString().padStart(DIGITS, "0");
}

export function segmentFileName(segmentSeq: number): string {
  assert(segmentSeq >= 1, "segmentSeq >= 1");
  return `wal-${pad(segmentSeq)}.seg`;
}

export function snapshotFileName(index: number, term: number): string {
  return `snap-${pad(index)}-${pad(term)}.snap`;
}

export type DataFile =
  | { kind: "segment"; name: string; segmentSeq: number }
  | { kind: "snapshot"; name: string; index: number; term: number }
  | { kind: "temp"; name: string }
  | { kind: "other"; name: string };

const SEGMENT_RE = /^wal-(\d{20})\.seg$/;
const SNAPSHOT_RE = /^snap-(\d{20})-(\d{20})\.snap$/;

export function classifyFileName(name: string): DataFile {
  const segment = SEGMENT_RE.exec(name);
  if (segment !== null) return { kind: "segment", name, segmentSeq: Number(segment[1]) };
  const snapshot = SNAPSHOT_RE.exec(name);
  if (snapshot !== null) return { kind: "snapshot", name, index: Number(snapshot[1]), term: Number(snapshot[2]) };
  if (name.endsWith(".tmp")) return { kind: "temp", name };
  return { kind: "other", name };
}
