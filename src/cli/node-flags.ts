/**
 * The flags raftd's node process runs with. bin/raftd carries them in its `#!` line; `npm start`
 * (cluster.ts), the bench (bench/lib/cluster.ts) and the tests' raftd processes pass them to
 * `node` themselves. test/cli/node-flags.test.ts checks that bin/raftd's line says the same.
 *
 * --max-semi-space-size=4 (MiB): a raftd allocates fast (about 6 KB per command on a busy
 * leader), so V8 grows its young generation to the default cap of two 16 MiB semi-spaces, all of
 * it resident. Capped at 4, the young generation is 8 MiB: with 1M queued 64 B messages the
 * nodes' RSS fell from 298-323 MB to 255-259 MB (`npm run bench -- --million`, bench/README.md).
 * Scavenges come four times as often, but each costs what survives it, which the cap does not
 * change: over 6 alternating pairs of c64 runs, throughput and the leader's CPU per command were
 * the same with and without the cap (bench/README.md, session 4).
 */
export const raftdNodeFlags: readonly string[] = ["--max-semi-space-size=4"];

/** raftdNodeFlags that `execArgv` (a process's node flags) lacks. */
export function missingNodeFlags(execArgv: readonly string[]): string[] {
  return raftdNodeFlags.filter((flag) => !execArgv.includes(flag));
}
