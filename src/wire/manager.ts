/**
 * ConnectionManager: every byte between this process and other nodes or clients goes through it.
 *
 * - Outbound: one Link per remote node id (link.ts), connected lazily. `send()` queues a one-way
 *   message and returns false when the link's queue is full (wait for the 'drain' event);
 *   `call()` sends a request and resolves with the response, or rejects with a typed error:
 *   RPC_TIMEOUT (per call, defaults per message kind), WIRE_QUEUE_FULL, WIRE_FRAME_TOO_LARGE,
 *   CONNECTION_CLOSED (peer unreachable after reconnectAttemptsMax), a handshake refusal code,
 *   or MANAGER_CLOSED.
 * - Inbound: peers and clients connect to `listen`; after the handshake each message is handed to
 *   `onMessage` once (duplicates and replays are dropped by seq); requests carry a `reply`
 *   function whose answer goes back on the sender's connection, resent after a reconnect of the
 *   same sender incarnation if it was not delivered.
 * - A Ping request is answered with a Pong by the manager itself (a liveness probe for callers).
 * - A bad frame on any connection is counted, logged once with the peer's address, and closes
 *   that connection; a Link reconnects on its own.
 * - close() ends every socket and timer and fails pending calls, so the process can exit.
 */
import { EventEmitter } from "node:events";
import * as net from "node:net";
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { encodeBody, typeCodeOf, type WireMessage } from "./codec";
import { Connection } from "./connection";
import { clusterTagOf, encodeFrame, type Frame, frameFlagRequest, frameFlagResponse, frameHeaderBytes } from "./frame";
import { judgeHello } from "./handshake";
import { Link, type LinkHost } from "./link";
import { emptyStats, type ManagerOptions, type ResolvedOptions, resolveOptions, type WireStats } from "./options";
import { type OutgoingFrame, ReceiveWindow, SendStream } from "./sequence";
import type { Hello } from "./schema.generated";

export interface InboundMessage {
  /** The sender's node id as it named itself in its Hello. */
  from: string;
  role: "peer" | "client";
  message: WireMessage;
  /** Set when the sender awaits a reply: call it at most once; false if the reply was dropped. */
  reply: ((message: WireMessage) => boolean) | null;
}

export interface CallOptions {
  timeoutMs?: number;
}

/** One remote sender incarnation that connected to us: its requests in, our replies out. */
interface InboundSession {
  key: string;
  nodeId: string;
  incarnation: number;
  role: "peer" | "client";
  /** The clusterTag this sender's frames carry: ours, or 0 for an anonymous client. */
  frameTag: number;
  calls: ReceiveWindow;
  replies: SendStream;
  connection: Connection | null;
  pumpScheduled: boolean;
}

interface PendingCall {
  target: string;
  seq: number;
  timer: unknown;
  resolve: (message: WireMessage) => void;
  reject: (error: RaftmqError) => void;
}

export class ConnectionManager extends EventEmitter implements LinkHost {
  readonly options: ResolvedOptions;
  readonly stats: WireStats = emptyStats();
  readonly clusterTag: number;
  private readonly onMessage: (inbound: InboundMessage) => void;
  private readonly links = new Map<string, Link>();
  /** Invariant: insertion order is least recently attached first (eviction order). */
  private readonly sessions = new Map<string, InboundSession>();
  private readonly pending = new Map<number, PendingCall>();
  /** Accepted connections not yet through the handshake, with their handshake timers. */
  private readonly unhandshaken = new Map<Connection, unknown>();
  private nextRequestId = 1;
  private server: net.Server | null = null;
  private closed = false;

  constructor(options: ManagerOptions, onMessage: (inbound: InboundMessage) => void) {
    super();
    this.options = resolveOptions(options);
    this.clusterTag = clusterTagOf(this.options.clusterId);
    this.onMessage = onMessage;
  }

  get incarnation(): number {
    return this.options.incarnation;
  }

  /** Starts accepting connections; resolves with the bound address (port 0 gives a free one). */
  listen(): Promise<{ host: string; port: number }> {
    const listen = this.options.listen;
    assert(listen !== null, "listen() needs options.listen");
    assert(this.server === null, "listen() once");
    assert(!this.closed, "listen() before close()");
    const server = net.createServer((socket) => this.onAccept(socket));
    server.maxConnections = this.options.inboundPeersMax * 2;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", (error) => reject(new RaftmqError("CONFIG_INVALID", `cannot listen on ${listen.host}:${listen.port}`, { cause: error })));
      server.listen(listen.port, listen.host, () => {
        const address = server.address() as net.AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Queues a one-way message; false when the link's queue is full ('drain' is emitted with `to` later). */
  send(to: string, message: WireMessage): boolean {
    if (this.closed) throw new RaftmqError("MANAGER_CLOSED", "connection manager is closed");
    const seq = this.linkFor(to).offer(message, 0, 0);
    if (seq === null) this.stats.sendsRefused++;
    return seq !== null;
  }

  /**
   * Writes the messages send() and call() queued in this turn, and the replies, to their sockets
   * now. Without it they leave together at the end of the turn (a microtask), which is what
   * batches a client's requests; a caller that has more work before the turn ends (RaftNode: its
   * own disk write, applying and answering) calls this first so the messages are not held behind
   * that work.
   */
  flush(): void {
    for (const link of this.links.values()) link.flush();
    for (const session of this.sessions.values()) if (session.pumpScheduled) this.pumpSession(session);
  }

  call(to: string, message: WireMessage, callOptions: CallOptions = {}): Promise<WireMessage> {
    if (this.closed) return Promise.reject(new RaftmqError("MANAGER_CLOSED", "connection manager is closed"));
    if (this.pending.size >= this.options.pendingCallsMax) {
      this.stats.sendsRefused++;
      return Promise.reject(new RaftmqError("WIRE_QUEUE_FULL", "too many pending calls", { details: { pendingCallsMax: this.options.pendingCallsMax } }));
    }
    const timeoutMs = callOptions.timeoutMs ?? this.options.rpcTimeoutMsByType[message.type] ?? this.options.rpcTimeoutMsDefault;
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, "call timeoutMs is positive");
    // The timeout error is built only when the timer fires: capturing a stack for every call
    // cost a fifth of the client's CPU in the c64 bench profile. Its message names the call.
    const type = message.type;
    const requestId = this.allocateRequestId();
    let seq: number | null;
    try {
      seq = this.linkFor(to).offer(message, frameFlagRequest, requestId);
    } catch (error) {
      return Promise.reject(error);
    }
    if (seq === null) {
      this.stats.sendsRefused++;
      return Promise.reject(new RaftmqError("WIRE_QUEUE_FULL", `send queue to ${to} is full`, { details: { peer: to } }));
    }
    const requestSeq = seq;
    return new Promise((resolve, reject) => {
      const timer = this.options.timers.setTimeout(() => {
        if (this.pending.delete(requestId)) {
          this.stats.callsTimedOut++;
          reject(new RaftmqError("RPC_TIMEOUT", `${type} to ${to} timed out after ${timeoutMs} ms`, { details: { peer: to, timeoutMs } }));
        }
      }, timeoutMs);
      this.pending.set(requestId, { target: to, seq: requestSeq, timer, resolve, reject });
    });
  }

  /** Memory held for the link to `to` (null if none): for backpressure checks and metrics. */
  linkUsage(to: string): { queuedFrames: number; queuedBytes: number; retransmitFrames: number; retransmitBytes: number; socketBufferedBytes: number; open: boolean } | null {
    const link = this.links.get(to);
    if (link === undefined) return null;
    const s = link.stream;
    return { queuedFrames: s.queuedFrames, queuedBytes: s.queuedBytes, retransmitFrames: s.retransmitFrames, retransmitBytes: s.retransmitBytes, socketBufferedBytes: link.socketBufferedBytes, open: link.isOpen };
  }

  get pendingCalls(): number {
    return this.pending.size;
  }

  /** Ends every socket and timer; pending calls fail with MANAGER_CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new RaftmqError("MANAGER_CLOSED", "connection manager is closed");
    for (const [requestId, call] of this.pending) {
      this.pending.delete(requestId);
      this.options.timers.clearTimeout(call.timer);
      call.reject(error);
    }
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const [connection, timer] of this.unhandshaken) {
      this.options.timers.clearTimeout(timer);
      connection.close();
    }
    this.unhandshaken.clear();
    for (const session of this.sessions.values()) session.connection?.close();
    this.sessions.clear();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- LinkHost -------------------------------------------------------------------------------

  hasPendingCalls(link: Link): boolean {
    for (const call of this.pending.values()) if (call.target === link.target) return true;
    return false;
  }

  isWanted(frame: OutgoingFrame): boolean {
    return frame.requestId === 0 || this.pending.has(frame.requestId);
  }

  response(link: Link, frame: Frame, message: WireMessage): void {
    const call = this.pending.get(frame.requestId);
    if (call === undefined || call.target !== link.target) {
      this.stats.responsesLate++;
      return;
    }
    this.pending.delete(frame.requestId);
    this.options.timers.clearTimeout(call.timer);
    // The remote delivered the request, hence everything before it on this link (sequence.ts).
    link.stream.ackThrough(call.seq);
    call.resolve(message);
  }

  failCalls(link: Link, error: RaftmqError): void {
    for (const [requestId, call] of this.pending) {
      if (call.target !== link.target) continue;
      this.pending.delete(requestId);
      this.options.timers.clearTimeout(call.timer);
      call.reject(error);
    }
  }

  drained(link: Link): void {
    this.emit("drain", link.target);
  }

  badFrame(peer: string, address: string, error: RaftmqError): void {
    this.stats.badFrames[error.code] = (this.stats.badFrames[error.code] ?? 0) + 1;
    this.options.logger.warn({ node: this.options.nodeId, peer, address, code: error.code, details: error.details, event: "bad-frame" }, "bad frame, closing connection");
  }

  // ---- outbound -------------------------------------------------------------------------------

  private linkFor(to: string): Link {
    let link = this.links.get(to);
    if (link === undefined) {
      link = new Link(this, to, this.options.addressOf(to));
      this.links.set(to, link);
    }
    return link;
  }

  private allocateRequestId(): number {
    for (;;) {
      const requestId = this.nextRequestId;
      this.nextRequestId = this.nextRequestId >= 0xffffffff ? 1 : this.nextRequestId + 1;
      if (!this.pending.has(requestId)) return requestId; // terminates: pending.size < pendingCallsMax < 2^32
    }
  }

  // ---- inbound --------------------------------------------------------------------------------

  private onAccept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    let session: InboundSession | null = null;
    let refused = false;
    const o = this.options;
    const connection: Connection = new Connection(socket, { frameBytesMax: o.frameBytesMax, clusterTag: this.clusterTag, acceptAnonymous: true }, {
      frame: (frame, message) => {
        if (refused) return; // only the refusal is left to flush
        if (session === null) {
          session = this.onHello(connection, frame, message);
          refused = session === null;
        } else {
          this.onRequest(session, connection, frame, message);
        }
      },
      badFrame: (error) => {
        this.badFrame(session?.nodeId ?? "unknown", connection.remoteAddress, error);
        if (session === null && error.code === "WIRE_CLUSTER_MISMATCH") {
          // Tell the stranger why, in a frame its own decoder accepts, then hang up.
          const theirTag = Number(error.details["clusterTag"]);
          this.refuse(connection, "WIRE_CLUSTER_MISMATCH", "frame from another cluster", theirTag);
        }
      },
      drain: () => {
        if (session !== null) this.schedulePump(session);
      },
      closed: () => {
        const timer = this.unhandshaken.get(connection);
        if (timer !== undefined) o.timers.clearTimeout(timer);
        this.unhandshaken.delete(connection);
        if (session !== null && session.connection === connection) {
          session.connection = null;
          this.trimDetachedSessions();
        }
      },
    });
    this.unhandshaken.set(connection, o.timers.setTimeout(() => connection.close(), o.handshakeTimeoutMs));
  }

  private onHello(connection: Connection, frame: Frame, message: WireMessage): InboundSession | null {
    if (message.type !== "Hello") {
      this.badFrame("unknown", connection.remoteAddress, new RaftmqError("WIRE_HANDSHAKE", "first frame is not a Hello", { details: { type: message.type } }));
      connection.close();
      return null;
    }
    const hello = message.body;
    const verdict = judgeHello(hello, frame.clusterTag === 0, this.options.clusterId, this.options.acceptPeer);
    if (!verdict.ok) {
      this.stats.handshakesRefused++;
      this.options.logger.warn({ node: this.options.nodeId, peer: hello.nodeId, address: connection.remoteAddress, code: verdict.code, event: "handshake-refused" }, "handshake refused");
      this.refuse(connection, verdict.code, verdict.message, this.clusterTag);
      return null;
    }
    const session = this.attachSession(hello, verdict.role, frame.clusterTag, connection);
    if (session === null) {
      this.refuse(connection, "WIRE_HANDSHAKE", "too many connected senders", this.clusterTag);
      return null;
    }
    this.options.timers.clearTimeout(this.unhandshaken.get(connection));
    this.unhandshaken.delete(connection);
    this.stats.handshakesAccepted++;
    const reply: WireMessage = {
      type: "HelloReply",
      body: { accepted: true, nodeId: this.options.nodeId, incarnation: this.options.incarnation, lastDeliveredSeq: session.calls.lastDeliveredSeq, errorCode: "", errorMessage: "" },
    };
    connection.writeNow(encodeFrame({ typeCode: typeCodeOf("HelloReply"), flags: 0, clusterTag: this.clusterTag, seq: 0, requestId: 0 }, encodeBody(reply)));
    const lastDelivered = hello.acceptorIncarnation === this.options.incarnation ? hello.lastDeliveredSeq : 0;
    const queuedBefore = session.replies.queuedFrames;
    session.replies.resume(lastDelivered, () => true);
    this.stats.framesResent += session.replies.queuedFrames - queuedBefore;
    this.schedulePump(session);
    return session;
  }

  /** Finds or makes the session of (nodeId, incarnation) and attaches `connection`; null if full. */
  private attachSession(hello: Hello, role: "peer" | "client", frameTag: number, connection: Connection): InboundSession | null {
    const key = `${hello.nodeId}\u0000${hello.incarnation}`;
    for (const [otherKey, other] of this.sessions) {
      // The same sender under a new incarnation: its old sequence space is over.
      if (other.nodeId === hello.nodeId && otherKey !== key) {
        other.connection?.close();
        this.sessions.delete(otherKey);
      }
    }
    let session = this.sessions.get(key);
    if (session === undefined) {
      if (this.sessions.size >= this.options.inboundPeersMax && !this.evictDetachedSession()) return null;
      const o = this.options;
      session = {
        key, nodeId: hello.nodeId, incarnation: hello.incarnation, role, frameTag, calls: new ReceiveWindow(), connection: null, pumpScheduled: false,
        replies: new SendStream({ queueFramesMax: o.sendQueueFramesMax, queueBytesMax: o.sendQueueBytesMax, retransmitFramesMax: o.retransmitFramesMax, retransmitBytesMax: o.retransmitBytesMax }),
      };
    }
    this.sessions.delete(key);
    this.sessions.set(key, session); // most recently attached last
    if (session.connection !== null && session.connection !== connection) session.connection.close();
    session.connection = connection;
    return session;
  }

  /** Keeps the replies held for disconnected senders within detachedRepliesBytesMax (oldest go first). */
  private trimDetachedSessions(): void {
    let heldBytes = 0;
    for (const session of this.sessions.values()) {
      if (session.connection === null) heldBytes += session.replies.queuedBytes + session.replies.retransmitBytes;
    }
    for (const [key, session] of this.sessions) {
      if (heldBytes <= this.options.detachedRepliesBytesMax) return;
      if (session.connection !== null) continue;
      heldBytes -= session.replies.queuedBytes + session.replies.retransmitBytes;
      this.sessions.delete(key);
    }
  }

  private evictDetachedSession(): boolean {
    for (const [key, session] of this.sessions) {
      if (session.connection === null) {
        this.sessions.delete(key);
        return true;
      }
    }
    return false;
  }

  private refuse(connection: Connection, code: string, message: string, clusterTag: number): void {
    const reply: WireMessage = { type: "HelloReply", body: { accepted: false, nodeId: this.options.nodeId, incarnation: this.options.incarnation, lastDeliveredSeq: 0, errorCode: code, errorMessage: message } };
    // end() flushes the refusal; the handshake timer destroys the socket if the peer lingers.
    connection.socket.end(encodeFrame({ typeCode: typeCodeOf("HelloReply"), flags: 0, clusterTag, seq: 0, requestId: 0 }, encodeBody(reply)));
  }

  private onRequest(session: InboundSession, connection: Connection, frame: Frame, message: WireMessage): void {
    if (session.connection !== connection) return;
    if ((frame.flags & frameFlagResponse) !== 0 || message.type === "Hello" || message.type === "HelloReply") {
      this.badFrame(session.nodeId, connection.remoteAddress, new RaftmqError("WIRE_HANDSHAKE", "unexpected frame on an inbound connection", { details: { type: message.type } }));
      connection.close();
      return;
    }
    if (frame.clusterTag !== session.frameTag) {
      this.badFrame(session.nodeId, connection.remoteAddress, new RaftmqError("WIRE_CLUSTER_MISMATCH", "frame tag differs from the handshake's", { details: { clusterTag: frame.clusterTag } }));
      connection.close();
      return;
    }
    this.stats.framesReceived++;
    if (!session.calls.accept(frame.seq)) {
      this.stats.framesDuplicate++;
      return;
    }
    const reply = (frame.flags & frameFlagRequest) === 0 ? null : this.replier(session, frame.requestId);
    if (message.type === "Ping") {
      // Liveness probes are the wire layer's own business: answered here, never handed on.
      reply?.({ type: "Pong", body: { nonce: message.body.nonce } });
      return;
    }
    this.onMessage({ from: session.nodeId, role: session.role, message, reply });
  }

  private replier(session: InboundSession, requestId: number): (message: WireMessage) => boolean {
    let replied = false;
    return (message) => {
      assert(!replied, "reply() at most once per request");
      replied = true;
      if (this.closed || this.sessions.get(session.key) !== session) return false;
      const payload = encodeBody(message);
      const frameBytes = frameHeaderBytes + payload.length;
      if (frameBytes > this.options.frameBytesMax || !session.replies.hasRoom(frameBytes)) {
        this.stats.sendsRefused++;
        return false;
      }
      const seq = session.replies.takeSeq();
      session.replies.enqueue({ seq, requestId, bytes: encodeFrame({ typeCode: typeCodeOf(message.type), flags: frameFlagResponse, clusterTag: this.clusterTag, seq, requestId }, payload) });
      this.schedulePump(session);
      return true;
    };
  }

  private schedulePump(session: InboundSession): void {
    if (session.pumpScheduled) return;
    session.pumpScheduled = true;
    queueMicrotask(() => this.pumpSession(session));
  }

  private pumpSession(session: InboundSession): void {
    session.pumpScheduled = false;
    const connection = session.connection;
    if (connection === null || this.closed) return;
    const before = session.replies.queuedFrames;
    connection.pump(session.replies);
    this.stats.framesSent += before - session.replies.queuedFrames;
  }
}
