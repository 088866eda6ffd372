// Reprieve dashboard: polls the admin API every two seconds and offers the
// operator's actions. No framework, no build step; every text from the
// server is set with textContent, never parsed as HTML.
"use strict";

const POLL_MS = 2000;
const TOKEN_KEY = "reprieve-admin-token";
const $ = (id) => document.getElementById(id);

let selected = null;     // the tube whose buried jobs are shown
let lastPoll = null;     // {at, total, tubes: {name: total-jobs}} of the previous poll
let pageAfter = 0;       // next_after of the buried list, 0 when complete
let refreshFailed = false; // the status line shows a failed refresh

// api calls the admin API with the token, returning the decoded JSON; a
// 401 shows the login form. Actions send their parameters as a JSON body,
// the only kind the server takes for them.
async function api(method, path, params) {
  const headers = {};
  const init = {method, headers};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(params || {});
  }
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({error: resp.statusText, code: "bad_reply"}));
  if (resp.status === 401) {
    showLogin();
    throw new Error(data.error);
  }
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

function button(label, onclick, cls) {
  const b = el("button", {type: "button", className: cls || ""}, label);
  b.addEventListener("click", onclick);
  return b;
}

function status(msg, isError) {
  const s = $("status");
  s.textContent = msg;
  s.className = isError ? "error" : "";
}

function rate(now, before, seconds) {
  if (before === undefined || seconds <= 0) return "–";
  return ((now - before) / seconds).toFixed(1);
}

function duration(s) {
  if (s < 120) return s + " s";
  if (s < 7200) return Math.floor(s / 60) + " min";
  if (s < 172800) return Math.floor(s / 3600) + " h";
  return Math.floor(s / 86400) + " d";
}

const enc = encodeURIComponent;

async function refresh() {
  let stats, tubes, scheds, fails;
  try {
    [stats, tubes, scheds, fails] = await Promise.all([api("GET", "/api/v1/stats"), api("GET", "/api/v1/tubes"),
      api("GET", "/api/v1/schedules"), api("GET", "/api/v1/failures")]);
  } catch (e) {
    status("refresh failed: " + e.message, true);
    refreshFailed = true;
    return;
  }
  if (refreshFailed) {
    status("", false);
    refreshFailed = false;
  }
  $("login").hidden = true;
  $("main").hidden = false;
  $("logout").hidden = !sessionStorage.getItem(TOKEN_KEY);
  const now = performance.now() / 1000;
  const secs = lastPoll ? now - lastPoll.at : 0;
  const prevTubes = lastPoll ? lastPoll.tubes : {};
  $("summary").textContent = `${stats.hostname} · version ${stats.version} · up ${duration(stats.uptime)} · ${stats["current-tubes"]} tubes`;
  $("draining").hidden = !stats.draining;

  $("totals").tBodies[0].replaceChildren(el("tr", null,
    el("td", null, stats["current-jobs-ready"]), el("td", null, stats["current-jobs-reserved"]),
    el("td", null, stats["current-jobs-delayed"]), el("td", null, stats["current-jobs-buried"]),
    el("td", null, stats["current-jobs-urgent"]),
    el("td", null, rate(stats["total-jobs"], lastPoll && lastPoll.total, secs)),
    el("td", null, stats["current-connections"]), el("td", null, stats["current-waiting"]),
    el("td", null, stats["total-failures"]), el("td", null, stats["total-gave-up"]),
    el("td", null, stats["total-expired"])));

  const seen = {};
  const rows = tubes.tubes.map((t) => {
    seen[t.name] = t["total-jobs"];
    const actions = el("td", {className: "actions"});
    if (t["current-jobs-buried"] > 0 || t["current-jobs-delayed"] > 0) {
      actions.append(button(t["current-jobs-buried"] > 0 ? "Kick buried" : "Kick delayed", () => act(
        "POST", `/api/v1/tubes/${enc(t.name)}/kick`, {}, (r) => `kicked ${r.kicked} jobs in ${t.name}`)));
    }
    if (t["pause-time-left"] > 0) {
      actions.append(button("Unpause", () => act("POST", `/api/v1/tubes/${enc(t.name)}/unpause`, {}, () => `${t.name} unpaused`)));
    } else {
      actions.append(button("Pause", () => {
        const d = prompt(`Pause ${t.name} for (seconds, or 10m, 1h):`, "60");
        if (d) act("POST", `/api/v1/tubes/${enc(t.name)}/pause`, {delay: d}, (r) => `${t.name} paused for ${r.pause} s`);
      }));
    }
    actions.append(button("Buried jobs", () => select(t.name)));
    const tr = el("tr", {className: t.name === selected ? "selected" : ""},
      el("td", null, t.name), el("td", null, t["current-jobs-ready"]), el("td", null, t["current-jobs-reserved"]),
      el("td", null, t["current-jobs-delayed"]),
      el("td", {className: t["current-jobs-buried"] > 0 ? "warn" : ""}, t["current-jobs-buried"]),
      el("td", null, rate(t["total-jobs"], prevTubes[t.name], secs)),
      el("td", null, t["current-waiting"]), el("td", null, t["total-failures"]),
      el("td", null, t["pause-time-left"] > 0 ? duration(t["pause-time-left"]) : ""), actions);
    return tr;
  });
  $("tubes").tBodies[0].replaceChildren(...rows);
  showCluster(stats);
  showFailures(fails);
  $("schedules-section").hidden = scheds.schedules.length === 0;
  $("schedules").tBodies[0].replaceChildren(...scheds.schedules.map((s) => el("tr", null,
    el("td", null, s.name), el("td", null, `${s.cron} (${s.timezone})`), el("td", null, s.tube),
    el("td", null, s.next || "waiting for drain mode to end"), el("td", null, s.last || "never"),
    el("td", null, s.fired))));
  lastPoll = {at: now, total: stats["total-jobs"], tubes: seen};
  if (selected !== null) {
    if (!(selected in seen)) {
      selected = null;
      $("buried").hidden = true;
    } else if (pageAfter === 0) {
      await loadBuried(false);
    }
  }
}

// showCluster shows cluster mode's stats keys (docs/cluster.md); the
// panel stays hidden on a single node, whose stats have none.
function showCluster(stats) {
  const on = "cluster-role" in stats;
  $("cluster-section").hidden = !on;
  if (!on) return;
  const v = (k) => (k in stats ? stats[k] : "");
  $("cluster").tBodies[0].replaceChildren(el("tr", null,
    ...["cluster-name", "cluster-node", "cluster-role", "cluster-leader", "cluster-term",
      "cluster-replicas-current", "cluster-replicas", "cluster-replication-lag"].map((k) => {
      const warn = (k === "cluster-replicas-current" && stats[k] < stats["cluster-replicas"]) ||
        (k === "cluster-replication-lag" && stats[k] > 0);
      return el("td", {className: warn ? "warn" : ""}, v(k));
    })));
}

// showFailures shows the failure counts per tube that the server keeps,
// those of tubes dropped since included.
function showFailures(f) {
  $("failures-section").hidden = f.tubes.length === 0;
  $("failures-hint").textContent = "Counted since the server started and kept after a tube is dropped: " +
    `at most ${f["max-gone-tubes"]} dropped tubes are remembered, those dropped longest ago forgotten first ` +
    `(${f["forgotten-tubes"]} forgotten so far).`;
  $("failures").tBodies[0].replaceChildren(...f.tubes.map((t) => el("tr", null,
    el("td", null, t.name), el("td", null, t.failures), el("td", null, t.retried),
    el("td", null, t["gave-up"]), el("td", null, t.buried),
    el("td", null, t["dead-lettered"] > 0 ? `${t["dead-lettered"]} → ${t["dead-letter-tube"]}` : "0"),
    el("td", null, t.deleted), el("td", null, t.expired),
    el("td", {className: "error-text"}, t["last-error"]), el("td", null, t["last-failure"] || ""),
    el("td", {className: t.exists ? "" : "warn"}, t.exists ? "exists" : `dropped ${t["dropped-at"]}`))));
}

function select(name) {
  selected = name;
  pageAfter = 0;
  $("body").hidden = true;
  $("buried-tube").textContent = name;
  $("buried").hidden = false;
  for (const r of $("tubes").tBodies[0].rows) r.classList.toggle("selected", r.cells[0].textContent === name);
  loadBuried(false);
}

// loadBuried shows the first page of buried jobs, or appends the next one.
async function loadBuried(more) {
  const tube = selected;
  let page;
  try {
    page = await api("GET", `/api/v1/tubes/${enc(tube)}/jobs?state=buried&limit=100&after=${more ? pageAfter : 0}`);
  } catch (e) {
    status("listing buried jobs failed: " + e.message, true);
    return;
  }
  if (tube !== selected) return;
  const rows = page.jobs.map((j) => el("tr", null,
    el("td", null, j.id), el("td", null, j.failures), el("td", {className: "error-text"}, j["last-error"]),
    el("td", null, j["last-failure"] || ""), el("td", null, j["gave-up"]),
    el("td", null, j.origin === j.tube ? "" : j.origin), el("td", null, duration(j.age)),
    el("td", null, j.size),
    el("td", {className: "actions"},
      button("Kick", () => act("POST", `/api/v1/jobs/${j.id}/kick`, {}, () => `job ${j.id} kicked`)),
      button("Delete", () => confirm(`Delete job ${j.id}?`) && act("DELETE", `/api/v1/jobs/${j.id}`, {}, () => `job ${j.id} deleted`), "danger"),
      button("Body", () => showBody(j.id)))));
  const body = $("jobs").tBodies[0];
  if (more) body.append(...rows); else body.replaceChildren(...rows);
  pageAfter = page.next_after || 0;
  $("more").hidden = pageAfter === 0;
}

async function showBody(id) {
  try {
    const j = await api("GET", `/api/v1/jobs/${id}`);
    const pre = $("body");
    const from = j.origin === j.tube ? "" : `\nfrom tube:   ${j.origin} (${j["gave-up"]})`;
    pre.textContent = `job ${id} (${j["body-encoding"]}, ${j.size} bytes)${from}\n` +
      `failures:    ${j.failures}\nfirst error: ${j["first-error"]}\nlast error:  ${j["last-error"]}\n\n${j.body}`;
    pre.hidden = false;
  } catch (e) {
    status(`job ${id}: ${e.message}`, true);
  }
}

// act runs an action with its parameters, says what it did, and
// refreshes at once.
async function act(method, path, params, describe) {
  try {
    const r = await api(method, path, params);
    status(describe(r), false);
  } catch (e) {
    status(e.message, true);
  }
  pageAfter = 0;
  await refresh();
}

function showLogin() {
  $("main").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("token").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    refresh();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
  });
  $("kick-error").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("error-text").value;
    act("POST", `/api/v1/tubes/${enc(selected)}/kick`, {error: text},
      (r) => `kicked ${r.kicked} buried jobs of ${selected} whose last error contains "${text}"`);
  });
  $("flush-buried").addEventListener("click", () => {
    if (confirm(`Delete every buried job of ${selected}? This cannot be undone.`)) {
      act("POST", `/api/v1/tubes/${enc(selected)}/flush`, {state: "buried"}, (r) => `deleted ${r.flushed} buried jobs of ${selected}`);
    }
  });
  $("more").addEventListener("click", () => loadBuried(true));
  refresh();
  setInterval(refresh, POLL_MS);
});
