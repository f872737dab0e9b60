/**
 * Helpers for the admin endpoint tests: find a raftd's admin URL in its log (the
 * `admin-listening` record), and small fetch wrappers with deadlines.
 */
import type { RaftdProcess } from "../support/raftd-process";

const fetchTimeoutMs = 10_000;

/** The admin URL a raftd logged (it logs `admin-listening` right after `listening`). */
export async function adminUrl(proc: RaftdProcess | null): Promise<string> {
  if (proc === null) throw new Error("node is not running");
  for (const line of proc.lines) {
    try {
      const record = JSON.parse(line) as { event?: string; url?: string };
      if (record.event === "admin-listening" && typeof record.url === "string") return record.url;
    } catch {
      continue;
    }
  }
  const record = await proc.waitForEvent("admin-listening");
  return String(record.url);
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(fetchTimeoutMs) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

export async function getText(url: string, init: RequestInit = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(fetchTimeoutMs) });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** The value of the Prometheus sample `name` whose labels include `labels`; null when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const present = match[2] ?? "";
    if (Object.entries(labels).every(([key, value]) => present.includes(`${key}="${value}"`))) return Number(match[3]);
  }
  return null;
}
