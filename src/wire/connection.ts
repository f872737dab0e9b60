/**
 * One TCP connection: bytes in through a FrameDecoder and the codec, bytes out from a SendStream
 * with respect for the socket's backpressure. Knows nothing of handshakes or peers; the owner
 * (link.ts, manager.ts) decides what frames mean.
 *
 * Contract:
 * - `handlers.frame` is called once per whole, checksum-verified, decoded frame, in stream order.
 * - On the first bad frame (framing, checksum, protobuf, unknown type) no more frames are handed
 *   on, `handlers.badFrame` is called once, and the socket is destroyed.
 * - `handlers.closed` is called exactly once, after the socket is gone, whatever the reason.
 * - `pump(stream)` writes queued frames only while `socket.write()` returns true, so the socket's
 *   own buffer stays near its high-water mark; `handlers.drain` says when to pump again.
 */
import type * as net from "node:net";
import { AssertionError } from "../util/assert";
import { isRaftmqError, type RaftmqError } from "../util/errors";
import { decodeBody, isKnownTypeCode, type WireMessage } from "./codec";
import { type Frame, FrameDecoder, type FrameDecoderOptions } from "./frame";
import type { SendStream } from "./sequence";

export interface ConnectionHandlers {
  frame(frame: Frame, message: WireMessage): void;
  badFrame(error: RaftmqError): void;
  drain(): void;
  closed(): void;
}

export class Connection {
  readonly socket: net.Socket;
  /** "host:port" of the other end, for logs. */
  readonly remoteAddress: string;
  private readonly decoder: FrameDecoder;
  private readonly handlers: ConnectionHandlers;
  private closedAlready = false;
  private failed = false;
  private needDrain = false;
  bytesReceived = 0;

  constructor(socket: net.Socket, decoderOptions: Omit<FrameDecoderOptions, "isKnownType">, handlers: ConnectionHandlers) {
    this.socket = socket;
    this.remoteAddress = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    this.decoder = new FrameDecoder({ ...decoderOptions, isKnownType: isKnownTypeCode });
    this.handlers = handlers;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => {
      this.needDrain = false;
      if (!this.closedAlready) this.handlers.drain();
    });
    // Socket errors (resets, refused) end in 'close', where the owner learns of them; the error
    // itself carries nothing the owner acts on, so it is only recorded.
    socket.on("error", (error) => {
      this.lastSocketError = error;
    });
    socket.on("close", () => this.onClose());
  }

  lastSocketError: Error | null = null;

  get isOpen(): boolean {
    return !this.closedAlready && !this.socket.destroyed;
  }

  get isWritable(): boolean {
    return this.isOpen && !this.needDrain;
  }

  /** Writes one frame now (handshakes); returns false if the socket wants a drain first. */
  writeNow(bytes: Buffer): boolean {
    if (!this.isOpen) return false;
    const ok = this.socket.write(bytes);
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Writes queued frames of `stream` until it is empty or the socket pushes back. */
  pump(stream: SendStream): void {
    if (!this.isWritable || stream.queuedFrames === 0) return;
    this.socket.cork();
    while (!this.needDrain) {
      const frame = stream.shift();
      if (frame === null) break;
      if (!this.socket.write(frame.bytes)) this.needDrain = true;
    }
    this.socket.uncork();
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closedAlready || this.failed) return;
    this.bytesReceived += chunk.length;
    const result = this.decoder.push(chunk);
    for (const frame of result.frames) {
      if (!this.isOpen) return; // the owner closed us while handling an earlier frame
      let message: WireMessage;
      try {
        message = decodeBody(frame.typeCode, frame.payload);
      } catch (error) {
        if (error instanceof AssertionError || !isRaftmqError(error)) throw error;
        this.fail(error);
        return;
      }
      this.handlers.frame(frame, message);
    }
    if (result.error !== null) this.fail(result.error);
  }

  private fail(error: RaftmqError): void {
    if (this.failed || !this.isOpen) return;
    this.failed = true;
    this.handlers.badFrame(error);
    // The owner may have ended the socket gracefully to flush a last frame (a handshake refusal);
    // it then owns a timer that destroys it. Otherwise nothing more can be trusted: destroy.
    if (!this.socket.writableEnded) this.close();
  }

  private onClose(): void {
    if (this.closedAlready) return;
    this.closedAlready = true;
    this.handlers.closed();
  }
}
