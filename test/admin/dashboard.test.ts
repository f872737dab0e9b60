/**
 * The dashboard in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
 * against a 3-node cluster of real raftd processes with --admin auto: the page served by one
 * node discovers the other two, shows three nodes and one leader; after the leader is SIGKILLed
 * it shows the new leader and the dead node as down; an enqueued value appears in the log view.
 * Every wait is on page state (waitForFunction), never a sleep. A screenshot is saved to
 * test/admin/artifacts/dashboard.png (git-ignored). A second test checks the explicit set-up:
 * nodes with --admin 127.0.0.1:0 cannot derive each other's admin URLs, and the page is given
 * them with ?peers=. Skipped when /usr/bin/chromium is missing.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { chromium, type Browser, type Page } from "playwright-core";
import { TestCluster } from "../support/test-cluster";
import { adminUrl } from "./helpers";

const chromiumPath = "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const waitMs = 30_000;

/** The little of the DOM the in-page functions use (the project compiles without lib "dom"). */
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<PageElement>;
  querySelector(selector: string): PageElement | null;
  getElementById(id: string): PageElement | null;
};
const artifactDir = path.join(__dirname, "artifacts");

interface PageView {
  up: string[];
  down: string[];
  leaders: string[];
  leader: string;
}

/** What the page shows, read from its DOM (the data-* attributes the dashboard sets). */
function view(page: Page): Promise<PageView> {
  return page.evaluate(() => {
    const cards = [...document.querySelectorAll(".node")];
    return {
      up: cards.filter((c) => c.dataset.state === "up").map((c) => c.dataset.id ?? ""),
      down: cards.filter((c) => c.dataset.state === "down").map((c) => c.dataset.id ?? ""),
      leaders: cards.filter((c) => c.dataset.role === "leader").map((c) => c.dataset.id ?? ""),
      leader: document.getElementById("leader")?.dataset.leader ?? "",
    };
  });
}

t.test("dashboard in headless Chromium", { skip: fs.existsSync(chromiumPath) ? false : `${chromiumPath} not installed` }, async (t) => {
  const cluster = new TestCluster({ nodes: 3, seed: 77, raftdArgs: ["--admin", "auto"] });
  let browser: Browser | null = null;
  t.teardown(async () => {
    if (browser !== null) await browser.close();
    await cluster.cleanup();
  });
  try {
    await cluster.start();
    const urls = await Promise.all(cluster.members.map((m) => adminUrl(m.process)));
    const leader = (await cluster.status()).leader;
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: waitMs });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(`${urls[0]}/`, { timeout: waitMs });

    await page.waitForFunction(
      (expected) => {
        const cards = [...document.querySelectorAll(".node")];
        const up = cards.filter((c) => c.dataset.state === "up").length;
        const leaders = cards.filter((c) => c.dataset.role === "leader").length;
        return cards.length === 3 && up === 3 && leaders === 1 && document.getElementById("leader")?.dataset.leader === expected;
      },
      leader,
      { timeout: waitMs },
    );
    const before = await view(page);
    t.same(before.up.sort(), [...cluster.addresses].sort(), "three nodes, discovered from the serving node's /status");
    t.same(before.leaders, [leader], "one leader, the cluster's");

    await cluster.kill(cluster.indexOf(leader));
    await page.waitForFunction(
      (old) => {
        const cards = [...document.querySelectorAll(".node")];
        const down = cards.filter((c) => c.dataset.state === "down").map((c) => c.dataset.id);
        const leaders = cards.filter((c) => c.dataset.role === "leader").map((c) => c.dataset.id);
        return down.length === 1 && down[0] === old && leaders.length === 1 && leaders[0] !== old;
      },
      leader,
      { timeout: waitMs },
    );
    const after = await view(page);
    const newLeader = (await cluster.status()).leader;
    t.same(after.down, [leader], "the killed leader is shown down");
    t.same(after.leaders, [newLeader], "the new leader is shown");
    t.equal(after.leader, newLeader, "and named in the summary");
    t.equal(after.up.length, 2);

    const client = cluster.client();
    for (let i = 0; i < 20; i++) await client.execute("enqueue", "orders", `order-${i}`);
    const marker = `hello-from-the-browser-test-${Date.now()}`;
    await client.execute("enqueue", "greetings", marker);
    await page.waitForFunction((value) => document.querySelector(`.log-row[data-value="${value}"]`) !== null, marker, { timeout: waitMs });
    await page.waitForFunction(() => document.querySelector('.qrow[data-queue="orders"]')?.textContent?.endsWith("20") === true, null, { timeout: waitMs });
    t.pass("the enqueued value is in the log view and the queue depth shows 20 orders");

    fs.mkdirSync(artifactDir, { recursive: true });
    const shot = path.join(artifactDir, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    t.comment(`screenshot: ${shot}`);
    t.same(pageErrors, [], "no errors in the page");
  } catch (error) {
    t.comment(cluster.dump());
    throw error;
  }
});

t.test("dashboard with explicit admin addresses and ?peers=", { skip: fs.existsSync(chromiumPath) ? false : `${chromiumPath} not installed` }, async (t) => {
  const cluster = new TestCluster({ nodes: 2, seed: 78, raftdArgs: ["--admin", "127.0.0.1:0"] });
  let browser: Browser | null = null;
  t.teardown(async () => {
    if (browser !== null) await browser.close();
    await cluster.cleanup();
  });
  try {
    await cluster.start();
    const urls = await Promise.all(cluster.members.map((m) => adminUrl(m.process)));
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: waitMs });
    const page = await browser.newPage();
    await page.goto(`${urls[0]}/`, { timeout: waitMs });
    await page.waitForFunction(
      () => [...document.querySelectorAll(".node")].filter((c) => c.dataset.state === "up").length === 1 && document.querySelector(".node[data-state=unknown]") !== null,
      null,
      { timeout: waitMs },
    );
    t.pass("without ?peers= the other node has no known admin URL and is shown as unknown, not down");
    await page.goto(`${urls[0]}/?peers=${urls[1]}`, { timeout: waitMs });
    await page.waitForFunction(() => [...document.querySelectorAll(".node")].filter((c) => c.dataset.state === "up").length === 2, null, { timeout: waitMs });
    t.same((await view(page)).up.sort(), [...cluster.addresses].sort(), "with ?peers= both nodes are polled");
  } catch (error) {
    t.comment(cluster.dump());
    throw error;
  }
});
