/**
 * The identity file of a data dir, `identity.json`: which cluster this node belongs to and under
 * which advertised address it joined. Written once, atomically (temp file, fsync, rename, fsync
 * of the directory), before the node takes part in the cluster; a later start checks that the
 * address it is given matches, because a node's identity is its advertised address and a data
 * dir must never be reused under another one.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { fsyncDirectory } from "../storage/fs-util";
import { RaftmqError } from "../util/errors";

export interface NodeIdentity {
  clusterId: string;
  nodeId: string;
}

const fileName = "identity.json";

export async function readIdentity(dataDir: string): Promise<NodeIdentity | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dataDir, fileName), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new RaftmqError("STORAGE_IO", `cannot read ${fileName} in ${dataDir}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RaftmqError("STORAGE_CORRUPT", `${path.join(dataDir, fileName)} is not valid JSON`, { cause: error });
  }
  const identity = parsed as Partial<NodeIdentity>;
  if (typeof identity.clusterId !== "string" || identity.clusterId === "" || typeof identity.nodeId !== "string" || identity.nodeId === "") {
    throw new RaftmqError("STORAGE_CORRUPT", `${path.join(dataDir, fileName)} lacks clusterId or nodeId`);
  }
  return { clusterId: identity.clusterId, nodeId: identity.nodeId };
}

export async function writeIdentity(dataDir: string, identity: NodeIdentity): Promise<void> {
  const target = path.join(dataDir, fileName);
  const temp = `${target}.tmp`;
  const handle = await fs.open(temp, "w");
  try {
    await handle.writeFile(JSON.stringify(identity) + "\n", "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, target);
  await fsyncDirectory(dataDir);
}
