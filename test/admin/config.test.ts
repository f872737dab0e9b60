/**
 * Pure parts of the admin endpoint: the --admin flags (loopback unless --admin-public), the
 * auto convention for peers' admin URLs, and /log's query parsing (bounds, 400 cases).
 */
import t from "tap";
import { parseRaftdArgs } from "../../src/cli/raftd-config";
import { adminUrlOf, parseLogQuery, logLimitMax } from "../../src/admin";
import { isRaftmqError } from "../../src/util/errors";

const base = ["--listen", "127.0.0.1:7001", "--data-dir", "/tmp/x"];

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isRaftmqError(error)) return error.code;
    throw error;
  }
  return "none";
}

t.test("--admin flags", async (t) => {
  t.same(parseRaftdArgs(base).admin, null, "no admin endpoint by default");
  t.equal(parseRaftdArgs(base).adminAuto, false);
  t.same(parseRaftdArgs([...base, "--admin", "127.0.0.1:9000"]).admin, { host: "127.0.0.1", port: 9000 });
  t.same(parseRaftdArgs([...base, "--admin", "localhost:0"]).admin, { host: "localhost", port: 0 }, "port 0 allowed");
  const auto = parseRaftdArgs([...base, "--admin", "auto"]);
  t.equal(auto.adminAuto, true);
  t.equal(auto.admin, null);
  t.equal(codeOf(() => parseRaftdArgs([...base, "--admin", "10.1.2.3:9000"])), "CONFIG_INVALID", "non-loopback refused without --admin-public");
  t.equal(codeOf(() => parseRaftdArgs([...base, "--admin", "0.0.0.0:9000"])), "CONFIG_INVALID", "wildcard refused without --admin-public");
  const pub = parseRaftdArgs([...base, "--admin", "0.0.0.0:9000", "--admin-public"]);
  t.same(pub.admin, { host: "0.0.0.0", port: 9000 });
  t.equal(pub.adminPublic, true);
  t.equal(codeOf(() => parseRaftdArgs([...base, "--admin", "nonsense"])), "CONFIG_INVALID");
});

t.test("admin URL convention", async (t) => {
  t.equal(adminUrlOf("127.0.0.1:7001", 1000), "http://127.0.0.1:8001");
  t.equal(adminUrlOf("[::1]:7001", 1000), "http://[::1]:8001");
  t.equal(adminUrlOf("127.0.0.1:7001", null), null, "no convention without --admin auto");
  t.equal(adminUrlOf("127.0.0.1:65000", 1000), null, "past the last port");
});

t.test("/log query parsing", async (t) => {
  const q = (s: string) => parseLogQuery(new URLSearchParams(s));
  t.same(q(""), { from: null, limit: 50 }, "defaults: the latest 50");
  t.same(q("from=7&limit=3"), { from: 7, limit: 3 });
  t.same(q(`limit=${logLimitMax}`), { from: null, limit: logLimitMax });
  for (const bad of ["limit=0", `limit=${logLimitMax + 1}`, "limit=-1", "limit=1.5", "limit=", "from=abc", "from=-2", "from=1e3", "x=1", "from=99999999999999999"]) {
    t.equal(codeOf(() => q(bad)), "BAD_REQUEST", `${bad} is refused`);
  }
});
