// Seeded randomized model test. A deliberately naive reference model (arrays, linear scans,
// Buffer.byteLength) and three replicas of the real state machine are fed the same entries:
//   A applies everything; B is snapshotted and restored into a fresh machine at random points;
//   the model says what every result must be.
// Traffic mixes new commands, retries, stale and skipped seqs, client restarts, garbage entries,
// clock jumps past the session TTL and leaders with slow clocks, under tiny limits so every
// limit and eviction path is exercised. Checked after every entry: A = model = B results, peek
// and length of every queue, invariants; every few entries: A and B snapshots byte-identical.
import t from "tap";
import { decodeCommandResult, encodeCommand } from "../../src/queue/command-codec";
import { QueueLimits } from "../../src/queue/limits";
import { QueueStateMachine } from "../../src/queue/state-machine";
import { ApplyResult, QueueCommand } from "../../src/queue/types";
import { SeededRng } from "../../src/util/rng";
import { smallLimits } from "./helpers";

interface ModelSession {
  clientId: string;
  lastSeq: number;
  lastActiveMs: number;
  result: ApplyResult;
  cachedBytes: number;
}

class ReferenceModel {
  readonly queues = new Map<string, { value: string; index: number }[]>();
  sessions: ModelSession[] = []; // least recently used first
  clockMs = 0;

  constructor(private readonly limits: QueueLimits) {}

  apply(index: number, command: QueueCommand | null): ApplyResult {
    if (command === null) return { ok: false, error: "BAD_REQUEST" };
    this.clockMs = Math.max(this.clockMs, command.proposedAtMs);
    this.sessions = this.sessions.filter((s) => this.clockMs - s.lastActiveMs <= this.limits.sessionTtlMs);
    const session = this.sessions.find((s) => s.clientId === command.clientId);
    if (session === undefined && command.seq !== 1) return { ok: false, error: "SESSION_EXPIRED" };
    if (session !== undefined && command.seq < session.lastSeq) return { ok: false, error: "STALE_SEQUENCE" };
    if (session !== undefined && command.seq === session.lastSeq) {
      this.sessions = [...this.sessions.filter((s) => s !== session), { ...session, lastActiveMs: this.clockMs }];
      return session.result;
    }
    const result = this.execute(index, command);
    const cachedBytes = result.ok && result.op === "dequeue" ? Buffer.byteLength(result.value) : 0;
    this.sessions = this.sessions.filter((s) => s.clientId !== command.clientId);
    this.sessions.push({ clientId: command.clientId, lastSeq: command.seq, lastActiveMs: this.clockMs, result, cachedBytes });
    const cached = (): number => this.sessions.reduce((sum, s) => sum + s.cachedBytes, 0);
    while (this.sessions.length > this.limits.sessionsMax || cached() > this.limits.sessionCacheBytesMax) this.sessions.shift();
    return result;
  }

  private execute(index: number, command: QueueCommand): ApplyResult {
    const messages = this.queues.get(command.queue) ?? [];
    if (command.op === "dequeue") {
      const head = messages.shift();
      if (head === undefined) return { ok: false, error: "EMPTY" };
      if (messages.length === 0) this.queues.delete(command.queue);
      return { ok: true, op: "dequeue", index: head.index, value: head.value };
    }
    const all = [...this.queues.values()].flat();
    const totalBytes = all.reduce((sum, m) => sum + Buffer.byteLength(m.value), 0);
    if (Buffer.byteLength(command.value) > this.limits.valueBytesMax) return { ok: false, error: "VALUE_TOO_LARGE" };
    if (all.length + 1 > this.limits.messagesMax) return { ok: false, error: "QUEUE_FULL" };
    if (totalBytes + Buffer.byteLength(command.value) > this.limits.valueBytesTotalMax) return { ok: false, error: "QUEUE_FULL" };
    if (!this.queues.has(command.queue) && this.queues.size + 1 > this.limits.queuesMax) return { ok: false, error: "QUEUE_FULL" };
    messages.push({ value: command.value, index });
    this.queues.set(command.queue, messages);
    return { ok: true, op: "enqueue", index };
  }
}

const QUEUES = ["default", "q1", "q2", "q3", "q4"];
const CHARS = ["a", "b", "é", "日", "🎉", "\uFEFF", " ", "\u0000"];

interface Client {
  id: string;
  nextSeq: number;
  last: QueueCommand | null;
}

class Traffic {
  private nowMs = 1_000_000;
  private readonly clients: Client[] = [];
  private restarts = 0;
  private lastClient: Client | null = null;

  constructor(private readonly rng: SeededRng, private readonly ttlMs: number) {
    for (let i = 0; i < 6; i++) this.clients.push({ id: `client-${i}`, nextSeq: 1, last: null });
  }

  private value(): string {
    let value = "";
    const length = this.rng.nextInt(9);
    for (let i = 0; i < length; i++) value += CHARS[this.rng.nextInt(CHARS.length)];
    return value;
  }

  private stamp(): number {
    const roll = this.rng.nextInt(100);
    if (roll < 2) this.nowMs += this.ttlMs + 1 + this.rng.nextInt(this.ttlMs);
    else if (roll < 5) this.nowMs += this.ttlMs; // exactly at the expiry boundary
    else if (roll < 55) this.nowMs += this.rng.nextInt(100);
    // Sometimes a leader with a slow clock stamps the command.
    return this.rng.chance(0.05) ? Math.max(0, this.nowMs - this.rng.nextInt(3000)) : this.nowMs;
  }

  /** The next entry's bytes. */
  next(): Uint8Array {
    const roll = this.rng.nextInt(100);
    if (roll < 3) {
      this.lastClient = null;
      return this.garbage();
    }
    const client = this.clients[this.rng.nextInt(this.clients.length)]!;
    this.lastClient = client;
    const proposedAtMs = this.stamp();
    if (roll < 18 && client.last !== null) return encodeCommand({ ...client.last, proposedAtMs }); // retry
    if (roll < 23 && client.nextSeq > 2) {
      return encodeCommand({ ...this.fresh(client, proposedAtMs), seq: 1 + this.rng.nextInt(client.nextSeq - 2) }); // stale
    }
    if (roll < 27) client.nextSeq += 1 + this.rng.nextInt(3); // skip seqs: abandoned commands
    if (roll < 30) this.restart(client);
    const command = { ...this.fresh(client, proposedAtMs), seq: client.nextSeq++ };
    client.last = command;
    return encodeCommand(command);
  }

  /** Clients react to answers like real ones: SESSION_EXPIRED makes most take a new clientId. */
  observe(result: ApplyResult): void {
    if (this.lastClient !== null && !result.ok && result.error === "SESSION_EXPIRED" && this.rng.chance(0.9)) {
      this.restart(this.lastClient);
    }
    this.lastClient = null;
  }

  private restart(client: Client): void {
    client.id = `restarted-${this.restarts++}`;
    client.nextSeq = 1;
    client.last = null;
  }

  private fresh(client: Client, proposedAtMs: number): QueueCommand {
    const queue = QUEUES[this.rng.nextInt(QUEUES.length)]!;
    const base = { queue, clientId: client.id, seq: client.nextSeq, proposedAtMs };
    return this.rng.chance(0.55) ? { op: "enqueue", value: this.value(), ...base } : { op: "dequeue", ...base };
  }

  private garbage(): Uint8Array {
    const bytes = new Uint8Array(this.rng.nextInt(30));
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.rng.nextInt(256);
    return bytes;
  }
}

function resultKind(result: ApplyResult): string {
  return result.ok ? result.op : result.error;
}

function runSeed(seed: number, steps: number): { mismatches: string[]; kinds: Map<string, number>; restores: number } {
  const limits = smallLimits({ sessionsMax: 5, valueBytesMax: 12, messagesMax: 15, valueBytesTotalMax: 60, sessionCacheBytesMax: 24 });
  const rng = new SeededRng(seed);
  const traffic = new Traffic(rng.fork(), limits.sessionTtlMs);
  const model = new ReferenceModel(limits);
  const a = new QueueStateMachine(limits);
  let b = new QueueStateMachine(limits);
  const mismatches: string[] = [];
  const kinds = new Map<string, number>();
  let restores = 0;
  let index = 0;
  for (let step = 0; step < steps && mismatches.length < 5; step++) {
    index += 1 + (rng.chance(0.1) ? rng.nextInt(3) : 0); // noop/config entries are not applied
    const data = traffic.next();
    const decoded = decodeCommandResult(data);
    const expected = model.apply(index, decoded.ok ? decoded.command : null);
    const resultA = a.apply(index, data);
    const resultB = b.apply(index, data);
    traffic.observe(resultA);
    a.checkInvariants();
    b.checkInvariants();
    kinds.set(resultKind(resultA), (kinds.get(resultKind(resultA)) ?? 0) + 1);
    const where = `seed ${seed} step ${step} index ${index}`;
    if (JSON.stringify(resultA) !== JSON.stringify(expected)) {
      mismatches.push(`${where}: A ${JSON.stringify(resultA)} model ${JSON.stringify(expected)}`);
    }
    if (JSON.stringify(resultB) !== JSON.stringify(resultA)) {
      mismatches.push(`${where}: B ${JSON.stringify(resultB)} A ${JSON.stringify(resultA)}`);
    }
    for (const queue of QUEUES) {
      const head = model.queues.get(queue)?.[0];
      const peek = head === undefined ? { ok: false, error: "EMPTY" } : { ok: true, value: head.value };
      if (JSON.stringify(a.peek(queue)) !== JSON.stringify(peek)) mismatches.push(`${where}: peek ${queue}`);
      if (a.length(queue) !== (model.queues.get(queue)?.length ?? 0)) mismatches.push(`${where}: length ${queue}`);
    }
    if (a.stats().sessionCount !== model.sessions.length) mismatches.push(`${where}: session count`);
    if (rng.chance(0.02)) {
      const bytes = b.snapshot();
      b = new QueueStateMachine(limits);
      b.restore(bytes);
      restores += 1;
    }
    if (step % 25 === 0 && !Buffer.from(a.snapshot()).equals(Buffer.from(b.snapshot()))) {
      mismatches.push(`${where}: A and B snapshots differ`);
    }
  }
  return { mismatches, kinds, restores };
}

for (const seed of [1, 2, 3, 20261122]) {
  t.test(`model test, seed ${seed}`, async (t) => {
    const { mismatches, kinds, restores } = runSeed(seed, 10_000);
    t.same(mismatches, [], "replicas and model agree on every result, read and snapshot");
    t.ok(restores > 20, `snapshot/restore mid-stream ${restores} times`);
    // The traffic must reach every outcome, or the test proves less than it claims.
    for (const kind of ["enqueue", "dequeue", "EMPTY", "VALUE_TOO_LARGE", "QUEUE_FULL", "STALE_SEQUENCE", "SESSION_EXPIRED", "BAD_REQUEST"]) {
      t.ok((kinds.get(kind) ?? 0) > 0, `reached ${kind} (${kinds.get(kind) ?? 0} times)`);
    }
  });
}
