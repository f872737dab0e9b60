// Crash at random points: a child process (crash-writer.ts) streams persist/compact calls and
// reports each acknowledged one; we SIGKILL it at a seeded random output line, reload the
// directory and check that every acknowledged write is there, once and in order, that the only
// extra writes are a prefix of the unacknowledged ones, and that the hard state never went
// backwards. Two kill/reload cycles per directory, so recovery output is recovered again.
import t from "tap";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { openFileStorage } from "../../src/storage/file-storage";
import type { PersistentState } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { entryData, type CrashOp } from "./crash-writer";
import { tempDir } from "./helpers";

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

function apply(model: Model, op: CrashOp, entriesApplied: number): Model {
  const next: Model = { ...model, terms: model.terms.slice() };
  if (op.append !== undefined && entriesApplied > 0) {
    const to = op.append.from + entriesApplied - 1;
    next.terms.length = op.append.from;
    for (let i = op.append.from; i <= to; i++) next.terms[i] = op.append.term;
    next.last = to;
  }
  if (op.hardState !== undefined && (op.append === undefined || entriesApplied === op.append.to - op.append.from + 1)) {
    next.hardStateTerm = Math.max(next.hardStateTerm, op.hardState.term);
  }
  if (op.compact !== undefined) next.snapshotIndex = Math.max(next.snapshotIndex, op.compact.index);
  return next;
}

function fromState(state: PersistentState): Model {
  const terms: number[] = [];
  for (const e of state.entries) terms[e.index] = e.term;
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  const last = state.entries.length > 0 ? state.entries[state.entries.length - 1]!.index : snapshotIndex;
  return { snapshotIndex, terms, last, hardStateTerm: state.hardState.term };
}

/** True when `state` is the acked model plus a prefix of the pending ops (the last possibly partial). */
function matches(state: PersistentState, acked: Model, pending: CrashOp[]): boolean {
  const got = fromState(state);
  const candidates: Model[] = [acked];
  let model = acked;
  for (const op of pending) {
    const count = op.append ? op.append.to - op.append.from + 1 : 1;
    for (let applied = 1; applied <= count; applied++) candidates.push(apply(model, op, applied));
    model = apply(model, op, count);
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

/** Runs the writer until the `killAt`-th output line, then SIGKILLs it. */
function runChild(dir: string, seed: number, killAt: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, dir, String(seed)], { stdio: ["ignore", "pipe", "pipe"] });
    const ops = new Map<number, CrashOp>();
    const order: number[] = [];
    const acked = new Set<number>();
    let lines = 0;
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`crash-writer did not reach line ${killAt} in ${CHILD_TIMEOUT_MS} ms: ${stderr}`));
    }, CHILD_TIMEOUT_MS);
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    createInterface({ input: child.stdout }).on("line", (text) => {
      // Lines keep coming after we decide to kill: the child runs on until the signal lands, and
      // every op it wrote before dying may have reached the disk. Only a line cut in half by the
      // kill is unparsable, and its op was never issued (the line is written before the call).
      let message: { op?: CrashOp; ack?: number };
      try {
        message = JSON.parse(text) as { op?: CrashOp; ack?: number };
      } catch {
        return; // a torn last line: see above
      }
      if (message.op) {
        ops.set(message.op.id, message.op);
        order.push(message.op.id);
      }
      if (message.ack !== undefined) acked.add(message.ack);
      lines += 1;
      if (lines >= killAt && !killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") return reject(new Error(`crash-writer exited ${code} ${signal}: ${stderr}`));
      // Acks arrive in call order (persist resolves in order), so acked ops form a prefix.
      const firstPending = order.findIndex((id) => !acked.has(id));
      const cut = firstPending < 0 ? order.length : firstPending;
      resolve({ acked: order.slice(0, cut).map((id) => ops.get(id)!), pending: order.slice(cut).map((id) => ops.get(id)!) });
    });
  });
}

t.test("every acknowledged write survives SIGKILL at random points", async (t) => {
  const rng = new SeededRng(20261122);
  for (let d = 0; d < DIRS; d++) {
    const dir = await tempDir(t);
    let model: Model = { snapshotIndex: 0, terms: [], last: 0, hardStateTerm: 0 };
    for (let k = 0; k < KILLS_PER_DIR; k++) {
      const seed = rng.nextU32();
      const killAt = 2 + rng.nextInt(400);
      const run = await runChild(dir, seed, killAt);
      let acked = model;
      for (const op of run.acked) acked = apply(acked, op, op.append ? op.append.to - op.append.from + 1 : 1);
      const storage = await openFileStorage(dir, { fsync: "always", logger: { info() {}, warn() {}, error() {} }, segmentBytes: 8192, snapshotsKept: 1 });
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
      model = fromState(state);
    }
  }
});
