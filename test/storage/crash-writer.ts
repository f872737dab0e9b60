/**
 * Child process for crash.test.ts (not a test itself). Opens FileStorage in argv[2] with fsync
 * "always", loads it, then streams persist() and compact() calls forever: rounds of up to 16
 * concurrent appends (group commit), occasional truncations of a suffix with a new term, and
 * occasional compactions. Protocol on stdout, one JSON object per line:
 *   {"loaded": {...}}                      after load()
 *   {"op": {...}}                          BEFORE the call is issued
 *   {"ack": id}                            AFTER its promise resolved (durable)
 * The parent SIGKILLs it at a random line and checks the directory. Entry data is a pure
 * function of (index, term), so the parent can check every byte.
 */
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
}

function line(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  const rng = new SeededRng(Number(process.argv[3]));
  const silent = { info() {}, warn() {}, error() {} };
  const storage = await openFileStorage(dir, { fsync: "always", logger: silent, segmentBytes: 8192, snapshotsKept: 1 });
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
      ? storage.compact({ meta: { index: op.compact.index, term: op.compact.term, config: { voters: ["a"], learners: [] } }, data: entryData(op.compact.index, 0) })
      : storage.persist(op.hardState ?? null, entries, null);
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
    } else if (dice < 14 && lastIndex > compacted + 3) {
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
  process.stdout.write("usage: crash-writer.ts DIR SEED (spawned by crash.test.ts)\n");
} else if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`crash-writer failed: ${String((error as Error).stack ?? error)}\n`);
    process.exit(1);
  });
}
