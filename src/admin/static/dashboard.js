/*
 * raftmq dashboard: plain browser JavaScript, no build step, no libraries.
 *
 * Discovery: the page starts from the node that served it (location.origin) plus any ?peers=
 * admin URLs. Every /status lists the members with their admin URL when the node can derive it
 * (raftd --admin auto: admin port = raft port + 1000), so one answering node is enough to find the
 * rest. The page fans out: every pollMs it asks each known member's /status itself (at most one
 * request in flight per node, each with a deadline); a node that does not answer is shown as down
 * and everything else keeps working. The leader's /log is paged on demand.
 *
 * Bounded: term history keeps historyMax leaders, the chart sampleMax seconds, nodes at most
 * nodesMax. Data from the nodes is inserted with textContent only.
 */
"use strict";

const pollMs = 500;
const fetchTimeoutMs = 1500;
const historyMax = 20;
const sampleMax = 300; // seconds of chart
const nodesMax = 16;
const logPageSize = 15;

const state = {
  /** adminUrl -> { url, status, okAtMs, failedSinceMs, inflight } */
  byUrl: new Map(),
  /** raft id -> adminUrl (learned from answers and from members' adminUrl) */
  urlOf: new Map(),
  members: [], // [{id, role, voter}] from the freshest leader (or any) view
  leader: null, // {id, term}
  terms: [], // [{term, leader, atMs}]
  samples: [], // [{atMs, requests, commit}]
  logFrom: null, // null: follow the latest page
  logInflight: false,
  lastLog: null,
};

function addUrl(url) {
  if (typeof url !== "string" || url === "" || state.byUrl.has(url) || state.byUrl.size >= nodesMax) return;
  state.byUrl.set(url, { url, status: null, okAtMs: 0, failedSinceMs: null, inflight: false });
}

async function fetchJson(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), fetchTimeoutMs);
  try {
    const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  } finally {
    clearTimeout(timer);
  }
}

async function pollNode(node) {
  if (node.inflight) return;
  node.inflight = true;
  try {
    const status = await fetchJson(`${node.url}/status`);
    node.status = status;
    node.okAtMs = Date.now();
    node.failedSinceMs = null;
    state.urlOf.set(status.id, node.url);
    for (const member of status.members) {
      if (member.adminUrl) {
        if (!state.urlOf.has(member.id)) state.urlOf.set(member.id, member.adminUrl);
        addUrl(member.adminUrl);
      }
    }
  } catch (error) {
    if (node.failedSinceMs === null) node.failedSinceMs = Date.now();
  } finally {
    node.inflight = false;
  }
}

function isUp(node) {
  return node !== undefined && node.status !== null && node.failedSinceMs === null;
}

/** The leader with the highest term among the nodes that answered. */
function findLeader() {
  let best = null;
  for (const node of state.byUrl.values()) {
    if (!isUp(node) || node.status.role !== "leader") continue;
    if (best === null || node.status.term > best.status.term) best = node;
  }
  return best;
}

function noteLeader(leaderNode) {
  if (leaderNode === null) return;
  const { id, term } = leaderNode.status;
  state.leader = { id, term };
  const last = state.terms[state.terms.length - 1];
  if (last === undefined || last.term !== term || last.leader !== id) {
    state.terms.push({ term, leader: id, atMs: Date.now() });
    if (state.terms.length > historyMax) state.terms.shift();
  }
}

function sample(leaderNode) {
  const now = Date.now();
  const last = state.samples[state.samples.length - 1];
  if (last !== undefined && now - last.atMs < 1000) return;
  let requests = 0;
  let commit = 0;
  for (const node of state.byUrl.values()) {
    if (!isUp(node)) continue;
    requests += node.status.clientRequests;
    commit = Math.max(commit, node.status.commitIndex);
  }
  if (leaderNode !== null) commit = Math.max(commit, leaderNode.status.commitIndex);
  state.samples.push({ atMs: now, requests, commit });
  if (state.samples.length > sampleMax) state.samples.shift();
}

async function pollLog(leaderNode) {
  if (leaderNode === null || state.logInflight) return;
  state.logInflight = true;
  const query = state.logFrom === null ? `limit=${logPageSize}` : `from=${state.logFrom}&limit=${logPageSize}`;
  try {
    state.lastLog = await fetchJson(`${leaderNode.url}/log?${query}`);
  } catch (error) {
    // the leader just went away: the next poll finds the new one
  } finally {
    state.logInflight = false;
  }
}

async function tick() {
  // A hung node must not stall the page: render with whatever answered within the poll period.
  const polls = Promise.all([...state.byUrl.values()].map(pollNode));
  await Promise.race([polls, new Promise((resolve) => setTimeout(resolve, pollMs - 50))]);
  const leaderNode = findLeader();
  noteLeader(leaderNode);
  const view = leaderNode ?? [...state.byUrl.values()].find(isUp) ?? null;
  if (view !== null) state.members = view.status.members;
  sample(leaderNode);
  await pollLog(leaderNode);
  render(leaderNode);
}

// ------------------------------------------------------------------ rendering

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function ago(ms) {
  if (ms === null || ms === undefined) return "never";
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

function render(leaderNode) {
  const now = Date.now();
  const leaderStatus = leaderNode === null ? null : leaderNode.status;
  const leaderEl = document.getElementById("leader");
  leaderEl.textContent = leaderStatus === null ? "none" : leaderStatus.id;
  leaderEl.dataset.leader = leaderStatus === null ? "" : leaderStatus.id;
  document.getElementById("term").textContent = leaderStatus === null ? (state.leader ? `${state.leader.term}?` : "?") : leaderStatus.term;
  document.getElementById("commit").textContent = leaderStatus === null ? "?" : leaderStatus.commitIndex;
  const ids = state.members.map((m) => m.id);
  document.getElementById("up").textContent = `${ids.filter((id) => isUp(state.byUrl.get(state.urlOf.get(id)))).length}/${ids.length}`;
  document.getElementById("polled").textContent = `polled ${new Date(now).toLocaleTimeString()}`;
  renderNodes(leaderStatus, now);
  renderTerms(now);
  renderQueues(leaderStatus);
  renderChart();
  renderLog();
}

function renderNodes(leaderStatus, now) {
  const container = document.getElementById("nodes");
  const maxLag = Math.max(10, ...state.members.map((m) => {
    const node = state.byUrl.get(state.urlOf.get(m.id));
    return isUp(node) && leaderStatus !== null ? leaderStatus.lastIndex - node.status.appliedIndex : 0;
  }));
  const sorted = [...state.members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const cards = sorted.map((member) => nodeCard(member, leaderStatus, maxLag, now));
  container.replaceChildren(...cards);
}

function nodeCard(member, leaderStatus, maxLag, now) {
  const url = state.urlOf.get(member.id);
  const node = url === undefined ? undefined : state.byUrl.get(url);
  const seenByLeader = leaderStatus === null ? undefined : leaderStatus.members.find((m) => m.id === member.id);
  if (url === undefined) {
    // Alive or not, we cannot ask it: its admin port is not derivable (no --admin auto).
    return el("div", { class: "node", "data-id": member.id, "data-state": "unknown", "data-role": "unknown" },
      el("div", {}, el("span", { class: "id" }, member.id), el("span", { class: "badge unknown" }, "no admin URL")),
      el("div", { class: "kv" }, el("span", {}, "status"), el("span", {}, "unknown: open the page with ?peers=URL,URL"),
        el("span", {}, "raft"), el("span", {}, seenByLeader === undefined ? "—" : `leader heard from it ${ago(seenByLeader.lastContactMs)} ago`)));
  }
  if (!isUp(node)) {
    const since = node === undefined || node.failedSinceMs === null ? null : now - node.failedSinceMs;
    const detail = `not answering for ${ago(since)}`;
    const contact = seenByLeader === undefined ? "" : `leader heard from it ${ago(seenByLeader.lastContactMs)} ago`;
    return el("div", { class: "node", "data-id": member.id, "data-state": "down", "data-role": "down" },
      el("div", {}, el("span", { class: "id" }, member.id), el("span", { class: "badge down" }, "down")),
      el("div", { class: "kv" }, el("span", {}, "status"), el("span", { class: "health-bad" }, detail), el("span", {}, "raft"), el("span", {}, contact || "—")));
  }
  const s = node.status;
  const lag = leaderStatus === null ? 0 : Math.max(0, leaderStatus.lastIndex - s.appliedIndex);
  let health;
  if (s.role === "leader") health = "leading";
  else {
    const toLeader = s.members.find((m) => m.id === s.leader);
    const contact = toLeader ? toLeader.lastContactMs : null;
    // lastContactMs counts whole ticks (heartbeat intervals): 0 means within the current one.
    health = s.leader === null ? "no leader" : contact === 0 ? `heartbeat < ${s.heartbeatMs} ms ago` : `heartbeat ${ago(contact)} ago`;
  }
  const healthBad = s.role !== "leader" && (s.leader === null || (s.members.find((m) => m.id === s.leader) || {}).lastContactMs > 2000);
  const bar = el("div", { class: lag > 0 ? "bar warn" : "bar", title: `lag ${lag} entries` });
  bar.append(el("div", { style: `width:${lag === 0 ? 100 : Math.max(3, 100 - (100 * lag) / maxLag)}%` }));
  return el("div", { class: "node", "data-id": member.id, "data-state": "up", "data-role": s.role },
    el("div", {}, el("span", { class: "id" }, s.id), el("span", { class: `badge ${s.role}` }, s.role), member.voter ? "" : el("span", { class: "muted" }, " (learner)")),
    el("div", { class: "kv" },
      el("span", {}, "term"), el("span", {}, s.term),
      el("span", {}, "health"), el("span", { class: healthBad ? "health-bad" : "" }, health),
      el("span", {}, "commit / applied"), el("span", {}, `${s.commitIndex} / ${s.appliedIndex}`),
      el("span", {}, "log"), el("span", {}, `${s.firstIndex}..${s.lastIndex} (snap ${s.snapshotIndex})`),
      el("span", {}, "lag"), el("span", {}, `${lag} entries`)),
    bar);
}

function renderTerms(now) {
  const body = document.querySelector("#terms tbody");
  const rows = [...state.terms].reverse().map((t) => el("tr", {}, el("td", {}, t.term), el("td", {}, t.leader), el("td", {}, `${ago(now - t.atMs)} ago`)));
  body.replaceChildren(...rows);
}

function renderQueues(leaderStatus) {
  const container = document.getElementById("queues");
  if (leaderStatus === null || leaderStatus.queues.length === 0) {
    container.replaceChildren(el("span", { class: "muted" }, leaderStatus === null ? "no leader" : "no messages"));
    return;
  }
  const max = Math.max(1, ...leaderStatus.queues.map((q) => q.length));
  container.replaceChildren(...leaderStatus.queues.map((q) => {
    const bar = el("div", { class: "bar" });
    bar.append(el("div", { style: `width:${Math.max(2, (100 * q.length) / max)}%` }));
    return el("div", { class: "qrow", "data-queue": q.queue }, el("span", {}, q.queue), bar, el("span", {}, q.length));
  }));
}

function rates() {
  const out = [];
  for (let i = 1; i < state.samples.length; i++) {
    const a = state.samples[i - 1];
    const b = state.samples[i];
    const seconds = Math.max(0.001, (b.atMs - a.atMs) / 1000);
    out.push({ ops: Math.max(0, b.requests - a.requests) / seconds, commits: Math.max(0, b.commit - a.commit) / seconds });
  }
  return out;
}

function renderChart() {
  const svg = document.getElementById("chart");
  const points = rates();
  const width = 600;
  const height = 160;
  const max = Math.max(1, ...points.map((p) => Math.max(p.ops, p.commits)));
  const line = (pick, colour, dash) => {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    // The window grows from one minute to sampleMax seconds, so a fresh page is readable too.
    const span = Math.max(60, points.length);
    const coords = points.map((p, i) => `${(width * (i + span - points.length)) / (span - 1)},${height - 4 - ((height - 8) * pick(p)) / max}`);
    path.setAttribute("points", coords.join(" "));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", colour);
    path.setAttribute("stroke-width", "2");
    if (dash) path.setAttribute("stroke-dasharray", "6 4"); // the lines often coincide: one enqueue, one commit
    path.setAttribute("vector-effect", "non-scaling-stroke");
    return path;
  };
  svg.replaceChildren(line((p) => p.ops, "#2d5fa8"), line((p) => p.commits, "#1f7a3f", true));
  const last = points[points.length - 1];
  document.getElementById("chart-scale").textContent =
    `last ${Math.max(1, Math.round(points.length / 60))} min, top = ${max.toFixed(0)}/s` + (last ? `; now ${last.ops.toFixed(0)} ops/s, ${last.commits.toFixed(0)} commits/s` : "");
}

function renderLog() {
  const body = document.querySelector("#log tbody");
  const page = state.lastLog;
  if (page === null) {
    body.replaceChildren();
    return;
  }
  document.getElementById("log-range").textContent = `entries ${page.firstIndex}..${page.lastIndex}, commit ${page.commitIndex}`;
  const rows = [...page.entries].reverse().map((e) =>
    el("tr", { class: e.index > page.commitIndex ? "log-row uncommitted" : "log-row", "data-index": e.index, "data-value": e.value ?? "" },
      el("td", {}, e.index), el("td", {}, e.term), el("td", {}, e.op), el("td", {}, e.queue),
      el("td", { class: "value" }, (e.value ?? "") + (e.valueTruncated ? "…" : "")),
      el("td", {}, e.clientId === "" ? "" : `${e.clientId.slice(0, 10)}/${e.seq}`)));
  body.replaceChildren(...rows);
}

function setupPager() {
  document.getElementById("log-older").addEventListener("click", () => {
    const page = state.lastLog;
    if (page === null) return;
    state.logFrom = Math.max(page.firstIndex, page.from - logPageSize);
  });
  document.getElementById("log-newer").addEventListener("click", () => {
    const page = state.lastLog;
    if (page === null || state.logFrom === null) return;
    const next = page.from + logPageSize;
    state.logFrom = next + logPageSize > page.lastIndex ? null : next;
  });
  document.getElementById("log-latest").addEventListener("click", () => {
    state.logFrom = null;
  });
}

function start() {
  addUrl(location.origin);
  const peers = new URLSearchParams(location.search).get("peers");
  if (peers !== null) for (const url of peers.split(",")) addUrl(url.trim().replace(/\/+$/, ""));
  setupPager();
  let running = false;
  const loop = async () => {
    if (running) return; // a slow round (hung nodes) is not stacked on
    running = true;
    try {
      await tick();
    } finally {
      running = false;
    }
  };
  void loop();
  setInterval(loop, pollMs);
}

start();
