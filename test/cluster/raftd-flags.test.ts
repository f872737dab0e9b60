/**
 * raftd refuses bad flags and a data dir another raftd holds, with exit code 2 and the
 * CONFIG_INVALID code on stderr, before it touches the network.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import t from "tap";
import { ProcessSet } from "../support/raftd-process";
import { freePort } from "../wire/harness";

const raftdMain = path.resolve(__dirname, "../../src/cli/raftd-main.ts");

function runRaftd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", raftdMain, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`raftd ${args.join(" ")} did not exit within 20 s`));
    }, 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

t.test("bad flags exit 2 with CONFIG_INVALID", async (t) => {
  const processes = new ProcessSet();
  t.teardown(() => processes.cleanup());
  const dir = processes.tempDir("flags");
  const cases: Array<[string, string[]]> = [
    ["no --listen", ["--data-dir", dir]],
    ["no --data-dir", ["--listen", "127.0.0.1:7999"]],
    ["listen not HOST:PORT", ["--listen", "nowhere", "--data-dir", dir]],
    ["port out of range", ["--listen", "127.0.0.1:70000", "--data-dir", dir]],
    ["unknown flag", ["--listen", "127.0.0.1:7999", "--data-dir", dir, "--bogus", "1"]],
    ["election timeout below 3 heartbeats", ["--listen", "127.0.0.1:7999", "--data-dir", dir, "--heartbeat-ms", "100", "--election-timeout-ms", "200"]],
    ["bad --fsync", ["--listen", "127.0.0.1:7999", "--data-dir", dir, "--fsync", "sometimes"]],
    ["bad --log-level", ["--listen", "127.0.0.1:7999", "--data-dir", dir, "--log-level", "loud"]],
  ];
  for (const [what, args] of cases) {
    const result = await runRaftd(args);
    t.equal(result.code, 2, `${what}: exit 2`);
    t.match(result.stderr, /CONFIG_INVALID/, `${what}: says CONFIG_INVALID`);
  }
});

t.test("a second raftd on a data dir in use is refused", async (t) => {
  const processes = new ProcessSet();
  t.teardown(() => processes.cleanup());
  const dir = processes.tempDir("lock");
  const first = processes.startRaftd("first", { listen: `127.0.0.1:${await freePort()}`, dataDir: dir });
  await first.waitForEvent("listening");
  const second = await runRaftd(["--listen", `127.0.0.1:${await freePort()}`, "--data-dir", dir]);
  t.equal(second.code, 2, "exit 2");
  t.match(second.stderr, /in use by process/, "names the owner");
  t.equal(first.exitInfo, null, "the first raftd keeps running");
});
