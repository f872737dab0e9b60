/**
 * Test helper: real raftd processes on 127.0.0.1.
 *
 * Each RaftdProcess runs `src/cli/raftd-main.ts` through tsx (so tests exercise the sources, not a
 * stale dist/), logs JSON lines into a bounded ring buffer, and lets a test await log events
 * (`waitForEvent("listening")`) instead of sleeping. Every process is SIGKILLed and every data
 * dir removed by `cleanup()`; test files register it with t.teardown so this happens even when
 * a test fails. On failure `dump()` returns the last lines of every node for the report.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { raftdNodeFlags } from "../../src/cli/node-flags";

const repoRoot = path.resolve(__dirname, "../..");
const raftdMain = path.join(repoRoot, "src/cli/raftd-main.ts");
const raftctlMain = path.join(repoRoot, "src/cli/raftctl-main.ts");
const logLinesMax = 2000;

export type LogRecord = Record<string, unknown> & { msg?: string; event?: string };

interface EventWaiter {
  match: (record: LogRecord) => boolean;
  resolve: (record: LogRecord) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class RaftdProcess {
  readonly lines: string[] = [];
  private readonly waiters = new Set<EventWaiter>();
  private exited: Promise<{ code: number | null; signal: string | null }>;
  exitInfo: { code: number | null; signal: string | null } | null = null;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        for (const waiter of this.waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`${name} exited (${signal ?? `code ${String(code)}`}) while waiting`));
        }
        this.waiters.clear();
        resolve(this.exitInfo);
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      readline.createInterface({ input: stream }).on("line", (line) => this.onLine(line));
    }
  }

  private onLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > logLinesMax) this.lines.shift();
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      return; // not a log record (a crash trace): kept in `lines` for dump()
    }
    for (const waiter of this.waiters) {
      if (!waiter.match(record)) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(record);
    }
  }

  /** Resolves with the first later log record matching `match`; rejects after timeoutMs. */
  waitFor(match: (record: LogRecord) => boolean, timeoutMs: number, what: string): Promise<LogRecord> {
    if (this.exitInfo !== null) return Promise.reject(new Error(`${this.name} has exited`));
    const error = new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`);
    return new Promise((resolve, reject) => {
      const waiter: EventWaiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(error);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  waitForEvent(event: string, timeoutMs = 20_000): Promise<LogRecord> {
    return this.waitFor((record) => record.event === event, timeoutMs, `event ${event}`);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<{ code: number | null; signal: string | null }> {
    if (this.exitInfo === null) this.child.kill(signal);
    return this.exited;
  }

  waitExit(): Promise<{ code: number | null; signal: string | null }> {
    return this.exited;
  }
}

export interface RaftdArgs {
  listen: string;
  advertise?: string;
  join?: string;
  dataDir: string;
  extra?: string[];
}

export class ProcessSet {
  private readonly processes: RaftdProcess[] = [];
  private readonly dirs: string[] = [];

  tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `raftmq-${prefix}-`));
    this.dirs.push(dir);
    return dir;
  }

  startRaftd(name: string, args: RaftdArgs): RaftdProcess {
    const argv = [...raftdNodeFlags, "--import", "tsx", raftdMain, "--listen", args.listen, "--data-dir", args.dataDir, "--log-level", "debug"];
    if (args.advertise !== undefined) argv.push("--advertise", args.advertise);
    if (args.join !== undefined) argv.push("--join", args.join);
    argv.push(...(args.extra ?? []));
    const child = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    const proc = new RaftdProcess(name, child);
    this.processes.push(proc);
    return proc;
  }

  /** Runs raftctl once with --json; resolves with its exit code and parsed stdout. */
  raftctl(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; json: Record<string, unknown> | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", raftctlMain, "--json", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`raftctl ${args.join(" ")} did not exit within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once("exit", (code) => {
        clearTimeout(timer);
        let json: Record<string, unknown> | null = null;
        try {
          json = JSON.parse(stdout.trim().split("\n").pop() ?? "") as Record<string, unknown>;
        } catch {
          json = null;
        }
        resolve({ code, json, stdout, stderr });
      });
    });
  }

  /** Runs the raftctl REPL with `lines` on stdin (then EOF); resolves with its output. */
  raftctlRepl(args: string[], lines: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", raftctlMain, ...args], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.stdin.end(lines.map((line) => line + "\n").join(""));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`raftctl REPL did not exit within ${timeoutMs} ms; output so far: ${stdout}`));
      }, timeoutMs);
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  dump(): string {
    return this.processes.map((proc) => `==== ${proc.name}\n${proc.lines.slice(-200).join("\n")}`).join("\n");
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.processes.map((proc) => proc.kill("SIGKILL")));
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}
