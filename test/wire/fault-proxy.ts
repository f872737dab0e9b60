/**
 * A fault-injecting TCP proxy for tests, listening on 127.0.0.1 (port 0) and forwarding to one
 * target. Fault model, per direction of each proxied connection, driven by one seeded Rng:
 * - delay: every chunk waits delayMs + uniform[0, jitterMs), and chunks keep their order;
 * - corruption: data is cut into segments of at most segmentBytesMax (an Ethernet MSS by default);
 *   a segment is hit with probability corruptRate and 1..3 of its bits flip, below TCP's checksum
 *   as a faulty NIC, middlebox or memory would;
 * - stall: stall() stops reading from both ends (the kernel buffers fill and senders see
 *   backpressure), resume() restarts;
 * - partition: partition() holds every chunk in flight, heal() releases them in order;
 *   partitionAfter(n) partitions once n more bytes have entered the proxy (cuts a stream at a
 *   chosen point, whatever the timing);
 * - reset: resetAll() destroys every proxied connection at once.
 * Held bytes are bounded by heldBytesMax per direction: beyond it the source is paused.
 * close() ends every socket and timer.
 */
import * as net from "node:net";
import { SeededRng } from "../../src/util/rng";

export interface FaultConfig {
  delayMs: number;
  jitterMs: number;
  corruptRate: number;
  segmentBytesMax: number;
  heldBytesMax: number;
}

export interface ProxyStats {
  connections: number;
  chunks: number;
  chunksCorrupted: number;
  bytes: number;
}

interface Pipe {
  source: net.Socket;
  target: net.Socket;
  queue: Array<{ chunk: Buffer; dueAtMs: number }>;
  heldBytes: number;
  lastDueAtMs: number;
  timer: NodeJS.Timeout | null;
}

export class FaultProxy {
  readonly config: FaultConfig;
  readonly stats: ProxyStats = { connections: 0, chunks: 0, chunksCorrupted: 0, bytes: 0 };
  private readonly rng: SeededRng;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly pipes = new Set<Pipe>();
  private stalled = false;
  private partitioned = false;
  private partitionAt: { bytes: number; reached: () => void } | null = null;
  port = 0;

  constructor(private readonly targetPort: number, seed: number, config: Partial<FaultConfig> = {}) {
    this.config = { delayMs: 0, jitterMs: 0, corruptRate: 0, segmentBytesMax: 1460, heldBytesMax: 8 * 1024 * 1024, ...config };
    this.rng = new SeededRng(seed);
    this.server = net.createServer((client) => this.onConnection(client));
  }

  listen(): Promise<number> {
    return new Promise((resolve) => {
      this.server.listen(0, "127.0.0.1", () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  stall(): void {
    this.stalled = true;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const pipe of this.pipes) if (pipe.heldBytes <= this.config.heldBytesMax) pipe.source.resume();
  }

  partition(): void {
    this.partitioned = true;
  }

  /** Partitions once `bytes` more bytes have come in (either direction); resolves then. */
  partitionAfter(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.partitionAt = { bytes: this.stats.bytes + bytes, reached: resolve };
    });
  }

  heal(): void {
    this.partitioned = false;
    for (const pipe of this.pipes) this.schedule(pipe);
  }

  resetAll(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  async close(): Promise<void> {
    for (const pipe of this.pipes) if (pipe.timer !== null) clearTimeout(pipe.timer);
    this.pipes.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(client: net.Socket): void {
    this.stats.connections++;
    const upstream = net.connect({ host: "127.0.0.1", port: this.targetPort });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("error", () => {
        // A reset or refused connection: 'close' follows and tears the pair down.
      });
      socket.on("close", () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      if (this.stalled) socket.pause();
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(source: net.Socket, target: net.Socket): void {
    const pipe: Pipe = { source, target, queue: [], heldBytes: 0, lastDueAtMs: 0, timer: null };
    this.pipes.add(pipe);
    source.on("close", () => {
      if (pipe.timer !== null) clearTimeout(pipe.timer);
      this.pipes.delete(pipe);
    });
    source.on("data", (data: Buffer) => {
      for (let offset = 0; offset < data.length; offset += this.config.segmentBytesMax) {
        this.forward(pipe, Buffer.from(data.subarray(offset, offset + this.config.segmentBytesMax)));
      }
    });
  }

  private forward(pipe: Pipe, chunk: Buffer): void {
    this.stats.chunks++;
    this.stats.bytes += chunk.length;
    if (this.partitionAt !== null && this.stats.bytes >= this.partitionAt.bytes) {
      this.partitioned = true; // this chunk is held too
      this.partitionAt.reached();
      this.partitionAt = null;
    }
    if (this.config.corruptRate > 0 && this.rng.chance(this.config.corruptRate)) {
      this.stats.chunksCorrupted++;
      const flips = 1 + this.rng.nextInt(3);
      for (let i = 0; i < flips; i++) chunk[this.rng.nextInt(chunk.length)] ^= 1 << this.rng.nextInt(8);
    }
    const delayMs = this.config.delayMs + (this.config.jitterMs > 0 ? this.rng.nextInt(this.config.jitterMs) : 0);
    const dueAtMs = Math.max(pipe.lastDueAtMs, Date.now() + delayMs);
    pipe.lastDueAtMs = dueAtMs;
    pipe.queue.push({ chunk, dueAtMs });
    pipe.heldBytes += chunk.length;
    if (pipe.heldBytes > this.config.heldBytesMax) pipe.source.pause();
    this.schedule(pipe);
  }

  private schedule(pipe: Pipe): void {
    if (pipe.timer !== null || this.partitioned || pipe.queue.length === 0) return;
    const waitMs = Math.max(0, pipe.queue[0]!.dueAtMs - Date.now());
    pipe.timer = setTimeout(() => {
      pipe.timer = null;
      this.deliver(pipe);
    }, waitMs);
  }

  private deliver(pipe: Pipe): void {
    const nowMs = Date.now();
    while (!this.partitioned && pipe.queue.length > 0 && pipe.queue[0]!.dueAtMs <= nowMs) {
      const { chunk } = pipe.queue.shift()!;
      pipe.heldBytes -= chunk.length;
      if (!pipe.target.destroyed) pipe.target.write(chunk);
    }
    if (pipe.heldBytes <= this.config.heldBytesMax && !this.stalled) pipe.source.resume();
    this.schedule(pipe);
  }
}
