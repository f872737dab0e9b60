// The queue command codec: exact round trips (unicode, empty, BOM, maximum values), validation
// of every field, and garbage input (seeded random bytes, truncations, bit flips) that must give
// a typed BAD_REQUEST, never a crash and never a wrong command.
import t from "tap";
import {
  commandBytesMax,
  decodeCommand,
  decodeCommandResult,
  decodeForApply,
  describeCommand,
  encodeCommand,
  encodeProposal,
  validateClientId,
  validateProposal,
  validateQueueName,
} from "../../src/queue/command-codec";
import { utf8ByteLength } from "../../src/queue/bytes";
import { makeQueueLimits, VALUE_BYTES_LIMIT } from "../../src/queue/limits";
import { QueueCommand } from "../../src/queue/types";
import { RaftmqError } from "../../src/util/errors";
import { SeededRng } from "../../src/util/rng";

function enqueue(value: string, extra: Partial<QueueCommand> = {}): QueueCommand {
  return { op: "enqueue", queue: "default", value, clientId: "client-1", seq: 7, proposedAtMs: 1_700_000_000_000, ...extra } as QueueCommand;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof RaftmqError) return error.code;
    throw error;
  }
  return "no error";
}

t.test("round trips keep every field exactly", async (t) => {
  const values = ["", "hello", "héllo wörld", "日本語", "emoji 🎉🚀", "\uFEFFleading BOM", "nul\u0000inside", "x".repeat(1000)];
  for (const value of values) {
    const command = enqueue(value);
    const bytes = encodeCommand(command);
    t.same(decodeCommand(bytes), command, `value ${JSON.stringify(value.slice(0, 20))}`);
    t.equal(bytes.length, 20 + "client-1".length + "default".length + 4 + utf8ByteLength(value), "compact layout");
  }
  const dequeue: QueueCommand = { op: "dequeue", queue: "a.b_c-D9", clientId: "~!x", seq: Number.MAX_SAFE_INTEGER, proposedAtMs: 0 };
  t.same(decodeCommand(encodeCommand(dequeue)), dequeue);
  const big = enqueue("é".repeat(VALUE_BYTES_LIMIT / 2));
  t.same(decodeCommand(encodeCommand(big)), big, "value at the codec hard cap");
  t.ok(encodeCommand(big).length <= commandBytesMax(VALUE_BYTES_LIMIT));
});

t.test("describeCommand gives the log view", async (t) => {
  t.same(describeCommand(encodeCommand(enqueue("v"))), { op: "enqueue", queue: "default", clientId: "client-1", seq: 7, value: "v" });
  const dq = describeCommand(encodeCommand({ op: "dequeue", queue: "q", clientId: "c", seq: 1, proposedAtMs: 5 }));
  t.same(dq, { op: "dequeue", queue: "q", clientId: "c", seq: 1 });
  t.notOk("value" in dq);
  t.equal(codeOf(() => describeCommand(new Uint8Array([1, 2, 3]))), "BAD_REQUEST");
});

t.test("names and client ids are validated", async (t) => {
  t.equal(validateQueueName("default"), null);
  t.equal(validateQueueName("x".repeat(64)), null);
  for (const bad of ["", "x".repeat(65), "has space", "slash/", "ünï", 7, null]) {
    t.equal(validateQueueName(bad)?.code, "BAD_REQUEST", `queue ${JSON.stringify(bad)}`);
  }
  t.equal(validateClientId("a1b2c3d4e5f60718"), null);
  for (const bad of ["", "x".repeat(65), "a b", "tab\t", "é", undefined]) {
    t.equal(validateClientId(bad)?.code, "BAD_REQUEST", `clientId ${JSON.stringify(bad)}`);
  }
});

t.test("encode refuses what the state machine could not represent", async (t) => {
  t.equal(codeOf(() => encodeCommand(enqueue("v", { seq: 0 }))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue("v", { seq: 1.5 }))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue("v", { seq: 2 ** 53 }))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue("v", { proposedAtMs: -1 }))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue("v", { queue: "" }))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue("lone \ud800 surrogate"))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue("\udc00"))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue(undefined as unknown as string))), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand({ ...enqueue("v"), op: "peek" } as unknown as QueueCommand)), "BAD_REQUEST");
  t.equal(codeOf(() => encodeCommand(enqueue("x".repeat(VALUE_BYTES_LIMIT + 1)))), "VALUE_TOO_LARGE");
});

t.test("validateProposal applies the configured value limit, in UTF-8 bytes", async (t) => {
  const limits = makeQueueLimits({ valueBytesMax: 8, valueBytesTotalMax: 100, sessionCacheBytesMax: 100 });
  t.equal(validateProposal(enqueue("12345678"), limits), null, "exactly at the limit");
  t.equal(validateProposal(enqueue("123456789"), limits)?.code, "VALUE_TOO_LARGE");
  t.equal(validateProposal(enqueue("ééé"), limits), null, "6 bytes");
  t.equal(validateProposal(enqueue("éééé1"), limits)?.code, "VALUE_TOO_LARGE", "4 chars but 9 bytes");
  t.equal(validateProposal({ op: "dequeue", queue: "q", clientId: "c", seq: 1, proposedAtMs: 0 }, limits), null);
  t.equal(validateProposal(enqueue("v", { clientId: "" }), limits)?.code, "BAD_REQUEST");
});

t.test("encodeProposal is validateProposal then encodeCommand", async (t) => {
  const limits = makeQueueLimits({ valueBytesMax: 8, valueBytesTotalMax: 100, sessionCacheBytesMax: 100 });
  const commands: QueueCommand[] = [
    enqueue("12345678"),
    enqueue("123456789"),
    enqueue("ééé"),
    enqueue("éééé1"),
    enqueue("a\ud800b"),
    enqueue("v", { clientId: "" }),
    enqueue("v", { queue: "bad/name" }),
    enqueue("v", { seq: 0 }),
    { op: "dequeue", queue: "q", clientId: "c", seq: 1, proposedAtMs: 0 },
  ];
  for (const command of commands) {
    const expected = validateProposal(command, limits);
    const what = JSON.stringify(command);
    if (expected === null) t.same(Buffer.from(encodeProposal(command, limits)), Buffer.from(encodeCommand(command)), what);
    else t.equal(codeOf(() => encodeProposal(command, limits)), expected.code, what);
  }
});

t.test("commands encoded one after another do not share bytes (slab allocation)", async (t) => {
  const encoded = Array.from({ length: 2000 }, (_, i) => encodeCommand(enqueue(`value-${i}-${"x".repeat(i % 300)}`, { seq: i + 1 })));
  for (let i = 0; i < encoded.length; i++) {
    const command = decodeCommand(encoded[i]!);
    if (command.seq !== i + 1 || command.op !== "enqueue" || command.value !== `value-${i}-${"x".repeat(i % 300)}`) {
      t.fail(`command ${i} was overwritten`);
      return;
    }
  }
  const big = encodeCommand(enqueue("y".repeat(10_000)));
  t.equal(big.byteOffset, 0, "a command larger than a slab piece has a buffer of its own");
  t.equal(big.buffer.byteLength, big.length);
});

t.test("malformed bytes are BAD_REQUEST", async (t) => {
  const good = encodeCommand(enqueue("abc"));
  const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
    const copy = good.slice();
    f(copy);
    return copy;
  };
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["bad version", mutate((b) => (b[0] = 2))],
    ["bad op", mutate((b) => (b[1] = 9))],
    ["seq 0", mutate((b) => b.fill(0, 2, 10))],
    ["seq over 2^53", mutate((b) => (b[2] = 0x00, b[3] = 0x20))],
    ["proposedAtMs over 2^53", mutate((b) => (b[10] = 0xff))],
    ["clientId length 0", mutate((b) => (b[18] = 0))],
    ["clientId length past the end", mutate((b) => (b[18] = 200))],
    ["clientId with a space", mutate((b) => (b[19] = 0x20))],
    ["queue name with a slash", mutate((b) => (b[19 + 8 + 1] = 0x2f))],
    ["value length past the end", mutate((b) => (b[good.length - 5] = 4))],
    ["invalid UTF-8 in the value", mutate((b) => (b[good.length - 1] = 0xff))],
    ["trailing byte", new Uint8Array([...good, 0])],
    ["dequeue with a value", (() => { const b = good.slice(); b[1] = 2; return b; })()],
  ];
  for (const [what, bytes] of cases) {
    const result = decodeCommandResult(bytes);
    t.equal(result.ok, false, what);
    if (!result.ok) t.equal(result.error.code, "BAD_REQUEST", what);
    t.equal(codeOf(() => decodeCommand(bytes)), "BAD_REQUEST", `${what} (throwing form)`);
    t.equal(decodeForApply(bytes), null, `${what} (apply form)`);
  }
  const overlong = new Uint8Array([...good.subarray(0, good.length - 7), 0xff, 0xff, 0xff, 0xff]);
  t.equal(decodeCommandResult(overlong).ok, false, "value length over the hard cap");
});

t.test("seeded fuzz: random bytes, truncations and bit flips never crash", async (t) => {
  const rng = new SeededRng(20261122);
  const samples = [encodeCommand(enqueue("héllo 🎉")), encodeCommand({ op: "dequeue", queue: "q1", clientId: "zz", seq: 3, proposedAtMs: 99 })];
  let rejected = 0;
  let accepted = 0;
  const problems: string[] = [];
  const check = (bytes: Uint8Array): void => {
    const result = decodeCommandResult(bytes); // must not throw
    // The state machine's decoder accepts exactly the same bytes, and reads the same command.
    const forApply = decodeForApply(bytes);
    if ((forApply !== null) !== result.ok) problems.push(`decodeForApply ${forApply === null ? "refused" : "accepted"} ${Buffer.from(bytes).toString("hex")}`);
    if (result.ok && forApply !== null) {
      const c = result.command;
      const want = [c.op, c.queue, c.clientId, c.seq, c.proposedAtMs, c.op === "enqueue" ? c.value : ""];
      const got = [forApply.op, forApply.queue, forApply.clientId, forApply.seq, forApply.proposedAtMs, new TextDecoder("utf-8", { ignoreBOM: true }).decode(forApply.value)];
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`decodeForApply read differently: ${Buffer.from(bytes).toString("hex")}`);
    }
    if (result.ok) {
      accepted += 1;
      // Anything accepted must be a well-formed command that re-encodes to the same bytes.
      if (!Buffer.from(encodeCommand(result.command)).equals(bytes)) problems.push(`re-encode differs: ${Buffer.from(bytes).toString("hex")}`);
    } else {
      rejected += 1;
      if (!(result.error instanceof RaftmqError) || result.error.code !== "BAD_REQUEST") problems.push(`error ${String(result.error)}`);
    }
  };
  for (let i = 0; i < 3000; i++) {
    const bytes = new Uint8Array(rng.nextInt(80));
    for (let j = 0; j < bytes.length; j++) bytes[j] = rng.nextInt(256);
    if (bytes.length > 1 && rng.chance(0.5)) bytes[0] = 1; // get past the version byte often
    check(bytes);
  }
  for (const sample of samples) {
    for (let length = 0; length < sample.length; length++) {
      if (decodeCommandResult(sample.subarray(0, length)).ok) problems.push(`truncated to ${length} accepted`);
    }
    for (let i = 0; i < 2000; i++) {
      const bytes = sample.slice();
      bytes[rng.nextInt(bytes.length)] ^= 1 << rng.nextInt(8);
      check(bytes);
    }
  }
  t.same(problems, [], "every input decodes exactly or is a typed BAD_REQUEST");
  t.ok(rejected > 3000, `rejected ${rejected}`);
  t.ok(accepted > 100, `accepted ${accepted} (bit flips in the value or seq stay valid)`);
});

t.test("decodeForApply reads names right when its string table is full and names collide", async (t) => {
  // 1,000 client ids and queue names of every length from 1 to 64 on a 256-slot table: most
  // slots are shared, so a name whose slot holds another (or one of the same length) must not
  // come back as that other name.
  const rng = new SeededRng(256);
  const names: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const length = 1 + (i % 64);
    let name = "";
    for (let j = 0; j < length; j++) name += "abcXYZ019._-"[rng.nextInt(12)];
    names.push(name);
  }
  const wrong: string[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < names.length; i++) {
      const clientId = names[rng.nextInt(names.length)]!;
      const queue = names[i]!;
      const read = decodeForApply(encodeCommand({ op: "dequeue", queue, clientId, seq: 1, proposedAtMs: 0 }));
      if (read?.clientId !== clientId || read.queue !== queue) wrong.push(`${clientId}/${queue} read as ${read?.clientId}/${read?.queue}`);
    }
  }
  t.same(wrong.slice(0, 5), [], "every name read as written");
});
