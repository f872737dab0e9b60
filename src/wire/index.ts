/**
 * Public surface of src/wire: the ConnectionManager (transport between nodes and clients), the
 * message types of raftmq.proto, and conversions between raft messages and their wire form.
 */
export { ConnectionManager, type CallOptions, type InboundMessage } from "./manager";
export { type ManagerOptions, type WireStats, type Timers, type WireLogger, parseAddress, realTimers } from "./options";
export { type WireMessage, type WireMessageType, encodeBody, decodeBody } from "./codec";
export { frameBytesMaxDefault, frameHeaderBytes } from "./frame";
export { isRaftWireMessage, raftFromWire, raftToWire, type RaftWireMessage } from "./raft-convert";
export * as schema from "./schema.generated";
