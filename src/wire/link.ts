/**
 * The logical link from this process to one remote node: the frames we send it (requests and
 * one-way messages) and the responses it sends back, over a TCP connection we open lazily and
 * re-open after failures with capped exponential backoff and jitter.
 *
 *   idle --offer--> connecting --connect--> handshaking --HelloReply ok--> open
 *    ^                  |  timeout/error         |  refused, timeout, close   |  close, bad frame
 *    |                  v                        v                            v
 *    +--- give up <-- backoff <------------------+----------------------------+
 *        (attempts > reconnectAttemptsMax,   (timer) --> connecting
 *         or refused: fail queued and pending calls)
 *
 * Sequence ids run over the link's whole life (see sequence.ts): after a reconnect the remote
 * says what it delivered and only newer frames are resent; responses are deduplicated by seq.
 * Pending calls are not failed when a connection drops: their request is resent and their own
 * timeout bounds the wait. They fail at once when the link gives up or the remote refuses us.
 */
import * as net from "node:net";
import { RaftmqError, type ErrorCode } from "../util/errors";
import { assert } from "../util/assert";
import { encodeBody, typeCodeOf, type WireMessage } from "./codec";
import { Connection } from "./connection";
import { encodeFrame, type Frame, frameHeaderBytes } from "./frame";
import type { ResolvedOptions, WireStats } from "./options";
import { type OutgoingFrame, ReceiveWindow, SendStream } from "./sequence";
import type { HelloReply } from "./schema.generated";
import { protocolVersion } from "./handshake";

/** What a Link needs from its manager. */
export interface LinkHost {
  readonly options: ResolvedOptions;
  readonly stats: WireStats;
  readonly clusterTag: number;
  /** Whether calls to this link's target await responses (which only a reconnect can bring). */
  hasPendingCalls(link: Link): boolean;
  /** False for a request whose call already ended: not worth resending. */
  isWanted(frame: OutgoingFrame): boolean;
  response(link: Link, frame: Frame, message: WireMessage): void;
  /** Fail every pending call to this link's target with `error`. */
  failCalls(link: Link, error: RaftmqError): void;
  drained(link: Link): void;
  badFrame(peer: string, address: string, error: RaftmqError): void;
}

/** Delay before reconnect attempt `attempt` (1-based): capped doubling with equal jitter. */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number, randomInt: (bound: number) => number): number {
  assert(attempt >= 1, "backoff attempts start at 1");
  const capMs = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30));
  const halfMs = Math.floor(capMs / 2);
  return capMs - halfMs + randomInt(halfMs + 1);
}

type LinkState = "idle" | "connecting" | "handshaking" | "open" | "backoff" | "closed";

export class Link {
  readonly target: string;
  readonly stream: SendStream;
  private readonly host: LinkHost;
  private readonly address: { host: string; port: number };
  private replies = new ReceiveWindow();
  private remoteIncarnation = 0;
  private state: LinkState = "idle";
  private connection: Connection | null = null;
  /** Invariant: at most one timer (connect, handshake or backoff) at a time. */
  private timer: unknown = null;
  private attempts = 0;
  private drainWanted = false;
  private pumpScheduled = false;

  constructor(host: LinkHost, target: string, address: { host: string; port: number }) {
    const o = host.options;
    this.host = host;
    this.target = target;
    this.address = address;
    this.stream = new SendStream({ queueFramesMax: o.sendQueueFramesMax, queueBytesMax: o.sendQueueBytesMax, retransmitFramesMax: o.retransmitFramesMax, retransmitBytesMax: o.retransmitBytesMax });
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Bytes the socket holds that the kernel has not taken yet. */
  get socketBufferedBytes(): number {
    return this.connection?.socket.writableLength ?? 0;
  }

  /**
   * Encodes and queues a message; returns its seq, or null when the send queue is full (a 'drain'
   * follows once it is below half). Throws WIRE_FRAME_TOO_LARGE if it can never fit a frame.
   */
  offer(message: WireMessage, flags: number, requestId: number): number | null {
    assert(this.state !== "closed", "offer on a closed link");
    const payload = encodeBody(message);
    const frameBytes = frameHeaderBytes + payload.length;
    if (frameBytes > this.host.options.frameBytesMax) {
      throw new RaftmqError("WIRE_FRAME_TOO_LARGE", "message larger than frameBytesMax", { details: { frameBytes, frameBytesMax: this.host.options.frameBytesMax, type: message.type } });
    }
    if (!this.stream.hasRoom(frameBytes)) {
      this.drainWanted = true;
      return null;
    }
    const seq = this.stream.takeSeq();
    const bytes = encodeFrame({ typeCode: typeCodeOf(message.type), flags, clusterTag: this.host.clusterTag, seq, requestId }, payload);
    this.stream.enqueue({ seq, requestId, bytes });
    if (this.state === "idle") this.start();
    this.schedulePump();
    return seq;
  }

  close(): void {
    this.state = "closed";
    this.clearTimer();
    this.stream.clear();
    this.connection?.close();
    this.connection = null;
  }

  private start(): void {
    if (this.attempts === 0) this.connect();
    else this.startBackoff();
  }

  private connect(): void {
    const o = this.host.options;
    this.state = "connecting";
    this.host.stats.connectsAttempted++;
    const socket = net.connect({ host: this.address.host, port: this.address.port });
    const connection = new Connection(socket, { frameBytesMax: o.frameBytesMax, clusterTag: this.host.clusterTag, acceptAnyCluster: o.clusterId === "" }, {
      frame: (frame, message) => this.onFrame(connection, frame, message),
      badFrame: (error) => this.host.badFrame(this.target, connection.remoteAddress, error),
      drain: () => this.schedulePump(),
      closed: () => this.onClosed(connection),
    });
    this.connection = connection;
    this.setTimer(o.connectTimeoutMs, () => connection.close());
    socket.once("connect", () => {
      if (this.connection !== connection || this.state !== "connecting") return;
      this.state = "handshaking";
      this.setTimer(o.handshakeTimeoutMs, () => connection.close());
      const hello: WireMessage = {
        type: "Hello",
        body: {
          clusterId: o.clusterId, nodeId: o.nodeId, incarnation: o.incarnation, role: o.role === "peer" ? 1 : 2,
          protocolVersion, lastDeliveredSeq: this.replies.lastDeliveredSeq, acceptorIncarnation: this.remoteIncarnation,
        },
      };
      connection.writeNow(encodeFrame({ typeCode: typeCodeOf("Hello"), flags: 0, clusterTag: this.host.clusterTag, seq: 0, requestId: 0 }, encodeBody(hello)));
    });
  }

  private onFrame(connection: Connection, frame: Frame, message: WireMessage): void {
    if (this.connection !== connection) return;
    if (this.state === "handshaking") {
      if (message.type !== "HelloReply") return this.protocolError(connection, "expected HelloReply");
      if (message.body.accepted) return this.onAccepted(message.body);
      return this.onRefused(message.body);
    }
    if (this.state !== "open" || message.type === "HelloReply" || (frame.flags & 2) === 0) {
      return this.protocolError(connection, "unexpected frame on an outbound link");
    }
    this.host.stats.framesReceived++;
    if (!this.replies.accept(frame.seq)) {
      this.host.stats.framesDuplicate++;
      return;
    }
    this.host.response(this, frame, message);
  }

  private protocolError(connection: Connection, what: string): void {
    this.host.badFrame(this.target, connection.remoteAddress, new RaftmqError("WIRE_HANDSHAKE", what, { details: { state: this.state } }));
    connection.close();
  }

  private onAccepted(reply: HelloReply): void {
    const o = this.host.options;
    if (o.role === "peer" && reply.nodeId !== this.target) {
      this.onRefused({ ...reply, errorCode: "WIRE_HANDSHAKE", errorMessage: `expected node ${this.target}, found ${reply.nodeId}` });
      return;
    }
    this.clearTimer();
    this.state = "open";
    this.attempts = 0;
    if (reply.incarnation !== this.remoteIncarnation) {
      // The remote restarted (or this is the first contact): its reply seqs start again at 1.
      this.replies = new ReceiveWindow();
      this.remoteIncarnation = reply.incarnation;
    }
    const queuedBefore = this.stream.queuedFrames;
    this.stream.resume(reply.lastDeliveredSeq, (frame) => this.host.isWanted(frame));
    this.host.stats.framesResent += this.stream.queuedFrames - queuedBefore;
    this.schedulePump();
  }

  private onRefused(reply: HelloReply): void {
    const code = (reply.errorCode.startsWith("WIRE_") ? reply.errorCode : "WIRE_HANDSHAKE") as ErrorCode;
    const error = new RaftmqError(code, `refused by ${this.target}: ${reply.errorMessage}`, { details: { peer: this.target, remoteNodeId: reply.nodeId } });
    this.host.stats.handshakesRefused++;
    this.host.options.logger.warn({ peer: this.target, code, event: "handshake-refused" }, "handshake refused");
    this.connection?.close();
    this.connection = null;
    // Refusals back off like failed connects, so a misconfigured peer is not hammered.
    this.giveUp(error, Math.min(this.attempts + 1, this.host.options.reconnectAttemptsMax));
  }

  private onClosed(connection: Connection): void {
    if (this.connection !== connection) return;
    this.connection = null;
    this.clearTimer();
    if (this.state === "closed" || this.state === "idle") return;
    // Reconnect while anything is owed either way: frames to (re)send, or responses to pending
    // calls, which the remote resends only on a new connection from us.
    const hasWork = this.stream.queuedFrames > 0 || this.stream.retransmitFrames > 0 || this.host.hasPendingCalls(this);
    if (!hasWork) {
      this.state = "idle";
      return;
    }
    this.attempts++;
    if (this.attempts > this.host.options.reconnectAttemptsMax) {
      const error = new RaftmqError("CONNECTION_CLOSED", `cannot reach ${this.target}`, { details: { peer: this.target, attempts: this.attempts - 1, cause: connection.lastSocketError?.message } });
      this.host.options.logger.warn({ peer: this.target, attempts: this.attempts - 1, event: "peer-unreachable" }, "peer unreachable");
      this.giveUp(error, 0);
      return;
    }
    this.startBackoff();
  }

  /** Drop everything queued, fail pending calls, and wait for the next offer. */
  private giveUp(error: RaftmqError, attemptsAfter: number): void {
    this.clearTimer();
    this.state = "idle";
    this.attempts = attemptsAfter;
    this.stream.clear();
    this.host.failCalls(this, error);
    this.checkDrain();
  }

  private startBackoff(): void {
    const o = this.host.options;
    this.state = "backoff";
    const delayMs = backoffDelayMs(Math.max(1, this.attempts), o.reconnectBackoffMsMin, o.reconnectBackoffMsMax, (bound) => o.rng.nextInt(bound));
    this.setTimer(delayMs, () => {
      if (this.state === "backoff") this.connect();
    });
  }

  /**
   * Writes what offer() queued now instead of at the end of this turn (see ConnectionManager.flush).
   * The pump already scheduled still runs and finds less or nothing to write.
   */
  flush(): void {
    if (this.pumpScheduled) this.pump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.state !== "open") return;
    this.pumpScheduled = true;
    // Batch every frame offered in this turn of the event loop into one corked write.
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    const connection = this.connection;
    if (this.state !== "open" || connection === null) return;
    const before = this.stream.queuedFrames;
    connection.pump(this.stream);
    this.host.stats.framesSent += before - this.stream.queuedFrames;
    this.checkDrain();
  }

  private checkDrain(): void {
    if (this.drainWanted && !this.stream.aboveLowWater()) {
      this.drainWanted = false;
      this.host.drained(this);
    }
  }

  private setTimer(delayMs: number, callback: () => void): void {
    this.clearTimer();
    const timers = this.host.options.timers;
    this.timer = timers.setTimeout(() => {
      this.timer = null;
      callback();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    this.host.options.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
