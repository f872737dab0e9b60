/**
 * Child process for crash.test.ts (not a test itself). Opens FileStorage in argv[2] with fsync
 * "always", loads it, then streams persist() and compact() calls forever: rounds of up to 16
 * concurrent appends (group commit), occasional truncations of a suffix with a new term, and
 * occasional compactions and snapshots "from a leader" (beyond the log with a new term, or
 * inside it with a matching term), each with the entries that follow it. Protocol: one JSON
 * object per line appended with writeSync to the journal file argv[4] (a pipe would queue lines
 * in memory when full and lose them at the kill), plus one "." on stdout per line as a progress
 * signal for the parent:
 *   {"loaded": {...}}                      after load()
 *   {"op": {...}}                          BEFORE the call is issued
 *   {"ack": id}                            AFTER its promise resolved (durable)
 * The parent SIGKILLs it at a random line and checks the directory. Entry data is a pure
 * function of (index, term), so the parent can check every byte.
 */
import { openSync, writeSync } from "node:fs";
import { openFileStorage } from "../../src/storage/file-storage";
import type { LogEntry } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";

export function entryData(index: number, term: number): Uint8Array {
  const data = new Uint8Array(((index * 7 + term) % 40) + 1);
  for (let i = 0; i < data.length; i++) data[i] = (index * 13 + term * 31 + i) & 0xff;
  return data;
}

export interface CrashOp {
  id: number;
  /** Entries [from, to] all with `term` (from <= previous last index truncates). */
  append?: { from: number; to: number; term: number };
  hardState?: { term: number; votedFor: string | null; commitIndex: number };
  compact?: { index: number; term: number };
  /** A leader's snapshot, persisted together with `append` (entries after it) and hardState. */
  install?: { index: number; term: number };
}

function snapshotOf(index: number, term: number) {
  return { meta: { index, term, config: { voters: ["a"], learners: [] } }, data: entryData(index, 0) };
}

let journal = -1;

function line(value: unknown): void {
  writeSync(journal, `${JSON.stringify(value)}\n`);
  process.stdout.write(".");
}

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  const rng = new SeededRng(Number(process.argv[3]));
  journal = openSync(process.argv[4]!, "a");
  const silent = { info() {}, warn() {}, error() {} };
  // preallocateBytes 2048: small enough for 8 KiB segments, so kills land during zero fills too.
  const storage = await openFileStorage(dir, { fsync: "always", logger: silent, segmentBytes: 8192, snapshotsKept: 1, preallocateBytes: 2048 });
  const state = await storage.load();
  const terms: number[] = [];
  const base = state.snapshot?.meta.index ?? 0;
  for (const e of state.entries) terms[e.index] = e.term;
  let lastIndex = state.entries.length > 0 ? state.entries[state.entries.length - 1]!.index : base;
  let term = Math.max(state.hardState.term, state.entries.length > 0 ? terms[lastIndex]! : 0, state.snapshot?.meta.term ?? 0, 1);
  let compacted = base;
  let votedFor = state.hardState.votedFor;
  line({ loaded: { lastIndex, term, compacted } });
  let id = 0;
  const issue = (op: CrashOp): Promise<void> => {
    line({ op });
    const entries: LogEntry[] = [];
    if (op.append) {
      for (let i = op.append.from; i <= op.append.to; i++) entries.push({ index: i, term: op.append.term, kind: "normal", data: entryData(i, op.append.term) });
    }
    const done = op.compact
      ? storage.compact(snapshotOf(op.compact.index, op.compact.term))
      : storage.persist(op.hardState ?? null, entries, op.install ? snapshotOf(op.install.index, op.install.term) : null);
    return done.then(() => line({ ack: op.id }));
  };
  for (let round = 0; round < 100_000; round++) {
    const dice = rng.nextInt(100);
    if (dice < 8 && lastIndex > compacted + 1) {
      const from = Math.max(compacted + 1, lastIndex - rng.nextInt(6));
      term += 1;
      const to = from + rng.nextInt(4);
      votedFor = `n${rng.nextInt(3)}`;
      await issue({ id: id++, append: { from, to, term }, hardState: { term, votedFor, commitIndex: compacted } });
      for (let i = from; i <= to; i++) terms[i] = term;
      lastIndex = to;
    } else if (dice < 14) {
      const beyond = rng.chance(0.5) || lastIndex <= compacted;
      if (beyond) term += 1;
      const index = beyond ? lastIndex + 1 + rng.nextInt(20) : compacted + 1 + rng.nextInt(lastIndex - compacted);
      const installTerm = beyond ? term : terms[index]!;
      const to = index + rng.nextInt(5);
      if (beyond) votedFor = null;
      await issue({ id: id++, install: { index, term: installTerm }, append: { from: index + 1, to, term }, hardState: { term, votedFor, commitIndex: index } });
      // §7: beyond the log, or a mismatch, discards it; a matching entry keeps the suffix, which
      // the entries that follow then overwrite like any append.
      if (beyond) terms.length = 0;
      if (beyond || to > index) {
        terms.length = Math.min(terms.length, index + 1);
        for (let i = index + 1; i <= to; i++) terms[i] = term;
        lastIndex = to;
      }
      compacted = index;
    } else if (dice < 20 && lastIndex > compacted + 3) {
      const index = compacted + 1 + rng.nextInt(lastIndex - compacted - 2);
      await issue({ id: id++, compact: { index, term: terms[index]! } });
      compacted = index;
    } else {
      const calls: Array<Promise<void>> = [];
      const concurrency = 1 + rng.nextInt(16);
      for (let c = 0; c < concurrency; c++) {
        const from = lastIndex + 1;
        const to = from + rng.nextInt(10);
        for (let i = from; i <= to; i++) terms[i] = term;
        lastIndex = to;
        const hardState = rng.chance(0.5) ? { term, votedFor, commitIndex: compacted } : undefined;
        calls.push(issue({ id: id++, append: { from, to, term }, ...(hardState ? { hardState } : {}) }));
      }
      await Promise.all(calls);
    }
  }
  await storage.close();
}

if (require.main === module && process.argv[2] === undefined) {
  process.stdout.write("usage: crash-writer.ts DIR SEED JOURNAL (spawned by crash.test.ts)\n");
} else if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`crash-writer failed: ${String((error as Error).stack ?? error)}\n`);
    process.exit(1);
  });
}
