// In-process crash injection: a power cut during the last flush leaves the newest segment cut
// at any byte, or with any suffix of it unwritten (zeros) or overwritten with junk. For seeded
// random damage of that kind, recovery must start (never STORAGE_CORRUPT), keep every flush that
// completed before the damaged one, drop the damaged flush whole, and return what was written.
import t from "tap";
import { cp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { entries, openStorage, plain, tempDir } from "./helpers";
import { SeededRng } from "../../src/util/rng";
import type { LogEntry } from "../../src/raft/types";

const FLUSHES = 30;
const CASES = 40;

t.test("random torn last flushes are recovered as a prefix without losing earlier flushes", async (t) => {
  const rng = new SeededRng(4242);
  const source = await tempDir(t);
  const { storage } = await openStorage(t, source);
  await storage.load();
  const written: LogEntry[] = [];
  const segment = async () => path.join(source, (await readdir(source)).find((n) => n.endsWith(".seg"))!);
  const flushEnds: Array<{ bytes: number; entries: number }> = [];
  for (let f = 0; f < FLUSHES; f++) {
    const list = entries(written.length + 1, written.length + 1 + rng.nextInt(8), 1, rng.nextInt(300));
    await storage.persist({ term: 1, votedFor: null, commitIndex: written.length }, list, null);
    written.push(...list);
    flushEnds.push({ bytes: (await stat(await segment())).size, entries: written.length });
  }
  await storage.close();
  const original = await readFile(await segment());
  for (let c = 0; c < CASES; c++) {
    // The damage starts inside the last flush: it is the only one a power cut can touch.
    const lastStart = flushEnds[FLUSHES - 2]!.bytes;
    const damageAt = lastStart + rng.nextInt(original.length - lastStart);
    const mode = rng.nextInt(3);
    const bytes = Buffer.from(original);
    let damaged: Buffer;
    if (mode === 0) {
      damaged = bytes.subarray(0, damageAt); // cut
    } else if (mode === 1) {
      const holeEnd = damageAt + 1 + rng.nextInt(original.length - damageAt);
      bytes.fill(0, damageAt, holeEnd); // an unwritten stretch, later sectors may have landed
      damaged = bytes;
    } else {
      for (let i = damageAt; i < bytes.length; i++) bytes[i] = rng.nextInt(256); // junk
      damaged = bytes;
    }
    const dir = await tempDir(t);
    await cp(source, dir, { recursive: true });
    await writeFile(path.join(dir, path.basename(await segment())), damaged);
    const { storage: reloaded } = await openStorage(t, dir);
    const state = await reloaded.load();
    const where = `case ${c} mode ${mode} damage at ${damageAt}`;
    // Flushes are atomic: the torn one goes whole (zeroing bytes that were zero changes nothing).
    t.ok([flushEnds[FLUSHES - 2]!.entries, written.length].includes(state.entries.length), `kept every completed flush, dropped the torn one whole (${where})`);
    t.same(plain(state.entries), plain(written.slice(0, state.entries.length)), `a prefix of what was written (${where})`);
    await reloaded.close();
  }
});
