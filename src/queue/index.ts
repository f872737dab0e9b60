/**
 * Public surface of the queue state machine (src/queue): the runtime imports from here only.
 * Pure modules: no node:* imports, no clock, no randomness, no I/O.
 */
export { QueueStateMachine, QueueStats } from "./state-machine";
export {
  commandBytesMax,
  COMMAND_FORMAT_VERSION,
  CommandDescription,
  decodeCommand,
  decodeCommandResult,
  DecodeCommandResult,
  describeCommand,
  encodeCommand,
  encodeProposal,
  validateClientId,
  validateProposal,
  validateQueueName,
} from "./command-codec";
export {
  CLIENT_ID_BYTES_MAX,
  DEFAULT_QUEUE_NAME,
  defaultQueueLimits,
  makeQueueLimits,
  QUEUE_NAME_BYTES_MAX,
  QueueLimits,
  VALUE_BYTES_LIMIT,
} from "./limits";
export { SNAPSHOT_FORMAT_VERSION } from "./snapshot-codec";
export { utf8ByteLength } from "./bytes";
export * from "./types";
