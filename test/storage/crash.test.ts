// Crash at random points: a child process (crash-writer.ts) streams persist/compact calls and
// journals each call before issuing it and each acknowledgement after it; we SIGKILL it at a seeded random output line, reload the
// directory and check that every acknowledged write is there, once and in order, that the only
// extra writes are whole unacknowledged calls in call order, and that the hard state never went
// backwards. Two kill/reload cycles per directory, so recovery output is recovered again.
import t from "tap";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { readFile, writeFile } from "node:fs/promises";
import { openFileStorage } from "../../src/storage/file-storage";
import type { PersistentState } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { entryData, type CrashOp } from "./crash-writer";
import { tempDir } from "./helpers";
import { readSnapshotData } from "../../src/storage/snapshot-files";

const DIRS = 10;
const KILLS_PER_DIR = 2;
const CHILD_TIMEOUT_MS = 30_000;
const WRITER = path.join(__dirname, "crash-writer.ts");

/** The log as terms by index (terms[i] for i in (snapshotIndex, last]). */
interface Model {
  snapshotIndex: number;
  terms: number[];
  last: number;
  hardStateTerm: number;
}

/** The model after `op` with its first `entriesApplied` entries. */
function apply(model: Model, op: CrashOp, entriesApplied: number): Model {
  const next: Model = { ...model, terms: model.terms.slice() };
  if (op.install !== undefined) {
    // §7: a matching entry at the snapshot's index keeps the suffix, anything else discards the log.
    if (next.terms[op.install.index] !== op.install.term || op.install.index > next.last) {
      next.terms = [];
      next.last = op.install.index;
    }
    next.last = Math.max(next.last, op.install.index);
    next.snapshotIndex = op.install.index;
  }
  if (op.append !== undefined && entriesApplied > 0) {
    const to = op.append.from + entriesApplied - 1;
    next.terms.length = Math.min(next.terms.length, op.append.from);
    for (let i = op.append.from; i <= to; i++) next.terms[i] = op.append.term;
    next.last = to;
  }
  if (op.hardState !== undefined && entriesApplied === entryCount(op)) {
    next.hardStateTerm = Math.max(next.hardStateTerm, op.hardState.term);
  }
  if (op.compact !== undefined) next.snapshotIndex = Math.max(next.snapshotIndex, op.compact.index);
  return next;
}

function entryCount(op: CrashOp): number {
  return op.append ? Math.max(0, op.append.to - op.append.from + 1) : 0;
}

function fromState(state: PersistentState): Model {
  const terms: number[] = [];
  for (const e of state.entries) terms[e.index] = e.term;
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  const last = state.entries.length > 0 ? state.entries[state.entries.length - 1]!.index : snapshotIndex;
  return { snapshotIndex, terms, last, hardStateTerm: state.hardState.term };
}

/**
 * True when `state` is the acked model plus a prefix of the pending ops. Each persist() is one
 * flush, replayed whole or not at all, so ops are atomic; an install's snapshot file may land
 * without its flush, which the loose snapshot-index check below admits.
 */
function matches(state: PersistentState, acked: Model, pending: CrashOp[]): boolean {
  const got = fromState(state);
  const candidates: Model[] = [acked];
  let model = acked;
  for (const op of pending) {
    model = apply(model, op, entryCount(op));
    candidates.push(model);
  }
  return candidates.some((c) => {
    if (got.snapshotIndex < acked.snapshotIndex || got.snapshotIndex > Math.max(c.snapshotIndex, model.snapshotIndex)) return false;
    if (got.last !== Math.max(c.last, got.snapshotIndex)) return false;
    for (let i = got.snapshotIndex + 1; i <= got.last; i++) if (got.terms[i] !== c.terms[i]) return false;
    return true;
  });
}

function runs(terms: number[], from: number, to: number): string {
  const out: string[] = [];
  for (let i = from; i <= to; i++) {
    const start = i;
    while (i < to && terms[i + 1] === terms[start]) i++;
    out.push(`${start}-${i}:t${terms[start]}`);
  }
  return out.join(" ");
}

function describe(state: PersistentState, acked: Model, run: ChildRun): string {
  const got = fromState(state);
  return [
    `got: snapshot ${got.snapshotIndex} last ${got.last} [${runs(got.terms, got.snapshotIndex + 1, got.last)}]`,
    `acked: snapshot ${acked.snapshotIndex} last ${acked.last} [${runs(acked.terms, Math.max(1, got.snapshotIndex + 1), acked.last)}]`,
    `last acked ops: ${JSON.stringify(run.acked.slice(-3))}`,
    `pending: ${JSON.stringify(run.pending)}`,
  ].join("\n");
}

interface ChildRun {
  acked: CrashOp[];
  pending: CrashOp[];
}

/** Reads the child's journal: every op it issued and every ack it got, in order. */
async function readJournal(file: string): Promise<ChildRun> {
  const ops = new Map<number, CrashOp>();
  const order: number[] = [];
  const acked = new Set<number>();
  for (const text of (await readFile(file, "utf8")).split("\n")) {
    let message: { op?: CrashOp; ack?: number };
    try {
      message = JSON.parse(text) as { op?: CrashOp; ack?: number };
    } catch {
      continue; // the empty string after the last newline: writeSync wrote whole lines
    }
    if (message.op) {
      ops.set(message.op.id, message.op);
      order.push(message.op.id);
    }
    if (message.ack !== undefined) acked.add(message.ack);
  }
  // Acks arrive in call order (persist resolves in order), so acked ops form a prefix.
  const firstPending = order.findIndex((id) => !acked.has(id));
  const cut = firstPending < 0 ? order.length : firstPending;
  return { acked: order.slice(0, cut).map((id) => ops.get(id)!), pending: order.slice(cut).map((id) => ops.get(id)!) };
}

/** Runs the writer until its `killAt`-th journal line, then SIGKILLs it. */
async function runChild(dir: string, journal: string, seed: number, killAt: number): Promise<ChildRun> {
  await writeFile(journal, "");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, dir, String(seed), journal], { stdio: ["ignore", "pipe", "pipe"] });
    let progress = 0;
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`crash-writer did not reach line ${killAt} in ${CHILD_TIMEOUT_MS} ms: ${stderr}`));
    }, CHILD_TIMEOUT_MS);
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.stdout.on("data", (chunk: Buffer) => {
      progress += chunk.length;
      if (progress >= killAt && !killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") return reject(new Error(`crash-writer exited ${code} ${signal}: ${stderr}`));
      resolve();
    });
  });
  return readJournal(journal);
}

t.test("every acknowledged write survives SIGKILL at random points", async (t) => {
  const rng = new SeededRng(20261122);
  const journals = await tempDir(t);
  for (let d = 0; d < DIRS; d++) {
    const dir = await tempDir(t);
    let model: Model = { snapshotIndex: 0, terms: [], last: 0, hardStateTerm: 0 };
    for (let k = 0; k < KILLS_PER_DIR; k++) {
      const seed = rng.nextU32();
      const killAt = 2 + rng.nextInt(400);
      const run = await runChild(dir, path.join(journals, `journal-${d}-${k}`), seed, killAt);
      let acked = model;
      for (const op of run.acked) acked = apply(acked, op, entryCount(op));
      const storage = await openFileStorage(dir, { fsync: "always", logger: { info() {}, warn() {}, error() {} }, segmentBytes: 8192, snapshotsKept: 1, preallocateBytes: 2048 });
      const state = await storage.load();
      await storage.close();
      const where = `dir ${d} kill ${k} seed ${seed} at line ${killAt}: ${run.acked.length} acked, ${run.pending.length} pending`;
      const ok = matches(state, acked, run.pending);
      t.ok(ok, `log = acknowledged writes + a prefix of the pending ones (${where})`);
      if (!ok) t.comment(describe(state, acked, run));
      t.ok(state.hardState.term >= acked.hardStateTerm, `hard state term did not go backwards (${where})`);
      let ordered = true;
      for (let i = 0; i < state.entries.length; i++) {
        const e = state.entries[i]!;
        if (e.index !== (state.snapshot?.meta.index ?? 0) + 1 + i) ordered = false;
        if (Buffer.compare(Buffer.from(e.data), Buffer.from(entryData(e.index, e.term))) !== 0) ordered = false;
      }
      t.ok(ordered, `entries contiguous, each once, data intact (${where})`);
      if (state.snapshot !== null) {
        const expected = entryData(state.snapshot.meta.index, 0);
        t.ok(Buffer.from(await readSnapshotData(state.snapshot.data)).equals(Buffer.from(expected)), `snapshot data intact (${where})`);
      }
      model = fromState(state);
    }
  }
});
