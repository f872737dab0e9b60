/**
 * Snapshot transfer between two real FileStorages (temp dirs) through a model network:
 *   - the sender holds at most one chunk and the receiver at most its queue bound, while a
 *     snapshot of many chunks goes through a network queue of bounded size;
 *   - lost chunks (a dropped connection beyond what the wire resends) end with the follower
 *     installed after the leader's retry, which restarts from 0 while the disk resumes;
 *   - a crash mid-receive leaves only a temp file, which the next load() removes.
 *
 * The network model: send() queues a chunk unless `capacity` chunks are queued (then false, and
 * drained() once there is room again); queued chunks are delivered in order, the next one once
 * the receiver has handled the previous (written, skipped or dropped it), so runs do not depend
 * on the disk's speed; `lose(n)` makes chunk number n (0-based, of all sent) vanish. The
 * receiver's own bound is tested with bursts pushed straight into it.
 */
import { readdir } from "node:fs/promises";
import t from "tap";
import { SnapshotReceiver, SnapshotSender, type InstallSnapshotBody } from "../../src/node/snapshot-chunks";
import type { InstallSnapshot, SnapshotMeta } from "../../src/raft/types";
import type { FileStorage } from "../../src/storage/file-storage";
import { readSnapshotData, type SnapshotFileData } from "../../src/storage/snapshot-files";
import { SeededRng } from "../../src/util/rng";
import { openStorage, tempDir, type Teardown } from "../storage/helpers";

const chunkBytes = 1000;
const meta: SnapshotMeta = { index: 500, term: 3, config: { voters: ["a:1", "b:2"], learners: [] } };
const silent = { info() {}, warn() {} };

class ModelNetwork {
  private readonly queue: InstallSnapshotBody[] = [];
  private delivering = false;
  private sentCount = 0;
  private readonly lost = new Set<number>();
  queuedBytesMax = 0;
  sender: SnapshotSender | null = null;

  constructor(
    private readonly capacity: number,
    private readonly deliver: (body: InstallSnapshotBody) => void,
  ) {}

  lose(chunkNumber: number): void {
    this.lost.add(chunkNumber);
  }

  send(_to: string, body: InstallSnapshotBody): boolean {
    if (this.queue.length >= this.capacity) return false;
    const number = this.sentCount++;
    if (!this.lost.has(number)) this.queue.push(body);
    this.queuedBytesMax = Math.max(this.queuedBytesMax, this.queue.reduce((sum, b) => sum + b.data.length, 0));
    this.next();
    return true;
  }

  /** The receiver handled the chunk delivered last. */
  handled(): void {
    this.delivering = false;
    this.next();
  }

  private next(): void {
    if (this.delivering || this.queue.length === 0) return;
    this.delivering = true;
    setImmediate(() => {
      const body = this.queue.shift()!;
      this.sender?.drained("b:2");
      this.deliver(body);
    });
  }
}

/** Runs `check` after every chunk the receiver handles; see until(). */
class Progress {
  private readonly waiters: Array<() => boolean> = [];

  constructor(receiver: SnapshotReceiver, network: ModelNetwork | null) {
    receiver.onProgress = () => {
      network?.handled();
      for (let i = this.waiters.length - 1; i >= 0; i--) if (this.waiters[i]!()) this.waiters.splice(i, 1);
    };
  }

  /** Resolves once `done()` holds, checked now and after every chunk the receiver handles. */
  until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (!done()) return false;
        resolve();
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
  }
}

async function leaderSnapshot(t: Teardown, bytes: number): Promise<{ storage: FileStorage; data: SnapshotFileData; content: Uint8Array }> {
  const storage = (await openStorage(t, await tempDir(t))).storage;
  await storage.load();
  const rng = new SeededRng(bytes);
  const content = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) content[i] = rng.nextInt(256);
  const writer = await storage.beginSnapshot(meta, bytes);
  await writer.write(0, content);
  return { storage, data: storage.snapshotData(await writer.finish()), content };
}

function installMessage(data: SnapshotFileData): InstallSnapshot {
  return { type: "InstallSnapshot", from: "a:1", to: "b:2", term: 4, snapshot: { meta, data } };
}

interface Pair {
  sender: SnapshotSender;
  receiver: SnapshotReceiver;
  network: ModelNetwork;
  progress: Progress;
  follower: FileStorage;
  followerDir: string;
  installed: Promise<InstallSnapshot>;
}

/** A follower's storage in a temp dir and a receiver writing into it. */
async function receivingFollower(t: Teardown): Promise<{ follower: FileStorage; followerDir: string; receiver: SnapshotReceiver; installed: Promise<InstallSnapshot> }> {
  const followerDir = await tempDir(t);
  const follower = (await openStorage(t, followerDir)).storage;
  await follower.load();
  let resolveInstalled: (message: InstallSnapshot) => void = () => undefined;
  const installed = new Promise<InstallSnapshot>((resolve) => (resolveInstalled = resolve));
  const receiver = new SnapshotReceiver(follower, 1 << 30, resolveInstalled, silent);
  return { follower, followerDir, receiver, installed };
}

async function pair(t: Teardown, capacity: number): Promise<Pair> {
  const { follower, followerDir, receiver, installed } = await receivingFollower(t);
  const network = new ModelNetwork(capacity, (body) => receiver.push("a:1", body));
  const sender = new SnapshotSender(network, chunkBytes, silent);
  network.sender = sender;
  return { sender, receiver, network, progress: new Progress(receiver, network), follower, followerDir, installed };
}

t.test("a snapshot of many chunks arrives intact with bounded buffers on both sides", async (t) => {
  const leader = await leaderSnapshot(t, 200_500);
  const p = await pair(t, 4);
  p.sender.send(installMessage(leader.data));
  p.sender.send(installMessage(leader.data)); // the core asking again while in progress: ignored
  const message = await p.installed;
  t.equal(p.sender.stats.transfersStarted, 1, "a repeated request did not restart the transfer");
  t.equal(p.sender.stats.chunksSent, 201, "201 chunks of at most 1000 bytes");
  t.ok(p.sender.stats.bytesHeldMax <= chunkBytes, `sender held <= 1 chunk (${p.sender.stats.bytesHeldMax})`);
  t.ok(p.network.queuedBytesMax <= 4 * chunkBytes, `network queue <= 4 chunks (${p.network.queuedBytesMax})`);
  t.ok(p.receiver.stats.bytesHeldMax <= chunkBytes, `receiver held <= 1 chunk (${p.receiver.stats.bytesHeldMax})`);
  t.same(message.snapshot.meta, meta);
  t.equal(message.term, 4);
  t.equal(message.snapshot.data.byteLength, 200_500);
  t.same(Buffer.from(await readSnapshotData(message.snapshot.data)), Buffer.from(leader.content), "file content intact");
  t.notOk((await readdir(p.followerDir)).some((name) => name.endsWith(".tmp")), "no temp file left");
  t.equal(p.receiver.transfersInProgress, 0);
  // The core's Ready hands the same snapshot to persist(): only the marker is appended.
  const writes = p.follower.stats().snapshotsWritten;
  await p.follower.persist({ term: 4, votedFor: null, commitIndex: 500 }, [], message.snapshot);
  t.equal(p.follower.stats().snapshotsWritten, writes, "persist reused the received file");
  await p.follower.close();
  const again = (await openStorage(t, p.followerDir)).storage;
  const state = await again.load();
  t.same(state.snapshot?.meta, meta, "the received snapshot is the one loaded after a restart");
  await again.close();
  await leader.storage.close();
});

t.test("chunks lost mid-transfer: the leader's retry restarts from 0, the receiver resumes on disk", async (t) => {
  const leader = await leaderSnapshot(t, 50_000);
  const p = await pair(t, 2);
  for (const lost of [20, 21, 22]) p.network.lose(lost);
  let settled = false;
  void p.installed.then(() => (settled = true));
  p.sender.send(installMessage(leader.data));
  // Every chunk of the first pass after the gap reaches the receiver and is dropped.
  await p.progress.until(() => p.receiver.stats.chunksDropped === 50 - 23);
  t.equal(p.sender.peersInProgress, 0, "the sender finished its pass");
  t.notOk(settled, "a transfer with a gap is not installed");
  t.equal(p.receiver.transfersInProgress, 1, "the partial file is kept");
  const writtenFirstPass = p.receiver.stats.chunksWritten;
  t.equal(writtenFirstPass, 20, "chunks before the gap were written");
  p.sender.send(installMessage(leader.data)); // the core re-probes after an election timeout
  const message = await p.installed;
  t.equal(p.sender.stats.transfersStarted, 2);
  t.same(Buffer.from(await readSnapshotData(message.snapshot.data)), Buffer.from(leader.content), "installed and intact");
  t.ok(p.receiver.stats.bytesHeldMax <= chunkBytes, "the receiver held at most one chunk");
  await p.follower.close();
  await leader.storage.close();
});

t.test("a crash mid-receive leaves only a temp file, which load() deletes", async (t) => {
  const leader = await leaderSnapshot(t, 30_000);
  const p = await pair(t, 2);
  for (let lost = 10; lost < 30; lost++) p.network.lose(lost);
  p.sender.send(installMessage(leader.data));
  await p.progress.until(() => p.receiver.stats.chunksWritten === 10);
  const names = await readdir(p.followerDir);
  t.ok(names.some((name) => name.endsWith(".tmp")), "a partial snapshot is a temp file");
  t.notOk(names.some((name) => name.endsWith(".snap")), "and nothing else");
  // "Crash": drop the process's view of the follower and open its directory afresh.
  const reopened = (await openStorage(t, p.followerDir)).storage;
  const state = await reopened.load();
  t.equal(state.snapshot, null, "no snapshot is made of a partial transfer");
  t.notOk((await readdir(p.followerDir)).some((name) => name.endsWith(".tmp")), "the temp file is gone");
  await reopened.close();
  await p.follower.close();
  await leader.storage.close();
});

t.test("a burst faster than any disk: each chunk is on disk before push() returns, nothing waits in memory", async (t) => {
  const leader = await leaderSnapshot(t, 20_000);
  const { follower, receiver, installed } = await receivingFollower(t);
  const body = (offset: number): InstallSnapshotBody => ({
    from: "a:1",
    to: "b:2",
    term: 4,
    meta: { index: meta.index, term: meta.term, config: meta.config },
    data: leader.content.subarray(offset, offset + chunkBytes),
    chunkOffset: offset,
    totalBytes: leader.content.length,
  });
  let inOrder = true;
  for (let k = 0; k < 20; k++) {
    receiver.push("a:1", body(k * chunkBytes));
    if (receiver.stats.chunksWritten !== k + 1) inOrder = false;
  }
  t.ok(inOrder, "every chunk was written before push() returned");
  t.ok(receiver.stats.bytesHeldMax <= chunkBytes, `held at most one chunk (${receiver.stats.bytesHeldMax})`);
  receiver.push("a:1", body(3 * chunkBytes)); // a late duplicate after the last chunk: starts nothing
  t.equal(receiver.transfersInProgress, 0);
  const message = await installed;
  t.same(Buffer.from(await readSnapshotData(message.snapshot.data)), Buffer.from(leader.content));
  await follower.close();
  await leader.storage.close();
});

t.test("the sender pauses while the peer is unreachable and resumes when the core asks again", async (t) => {
  const leader = await leaderSnapshot(t, 5_000);
  const sent: InstallSnapshotBody[] = [];
  let up = false;
  const logged: string[] = [];
  let resolveSent: () => void = () => undefined;
  const allSent = new Promise<void>((resolve) => (resolveSent = resolve));
  const logger = { info: (fields: Record<string, unknown>) => (logged.push(String(fields.event)), fields.event === "snapshot-sent" && resolveSent()), warn() {} };
  let resolveAsked: () => void = () => undefined;
  const asked = new Promise<void>((resolve) => (resolveAsked = resolve));
  const connected = (): boolean => {
    resolveAsked(); // the first chunk is read and about to be offered
    return up;
  };
  const sender = new SnapshotSender({ send: (_to, body) => (sent.push(body), true), connected }, chunkBytes, logger);
  sender.send(installMessage(leader.data));
  await asked;
  t.equal(sent.length, 0, "nothing is queued for an unreachable peer");
  t.equal(sender.peersInProgress, 1, "the transfer waits");
  up = true;
  sender.send(installMessage(leader.data)); // the core's retry
  await allSent;
  t.same(sent.map((body) => body.chunkOffset), [0, 1000, 2000, 3000, 4000], "then every chunk goes, once, in order");
  t.equal(sender.stats.transfersStarted, 1);
  await leader.storage.close();
});
