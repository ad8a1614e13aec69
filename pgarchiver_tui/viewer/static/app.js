// The archive viewer page: reads the JSON API, listens to /api/events, keeps its filters in the URL.
// Plain JavaScript, no build step, nothing fetched from elsewhere.
"use strict";

const PAGE = 200;
const STATE_LABELS = { archived: "Archived", verified: "Verified", problem: "Problem", failed: "Failed" };
const SORTS = ["state", "table", "period_start", "rows", "bytes_in", "bytes_out", "ratio", "finished_at",
               "verified_at", "key"];

const $ = (selector) => document.querySelector(selector);
const url = new URL(location.href);
const token = url.searchParams.get("token") || "";

const view = {
  q: url.searchParams.get("q") || "",
  table: url.searchParams.get("table") || "",
  destination: url.searchParams.get("destination") || "",
  status: url.searchParams.get("status") || "",
  sort: SORTS.includes(url.searchParams.get("sort")) ? url.searchParams.get("sort") : "period_start",
  order: url.searchParams.get("order") === "asc" ? "asc" : "desc",
  record: url.searchParams.get("record") || "",
  limit: PAGE,
};
let destinations = [];
let flash = new Set();
let reloadTimer = null;

// -- the API ---------------------------------------------------------------------------------------------
async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
  const response = await fetch(`/api/${path}${query.size ? "?" + query : ""}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    cache: "no-store",
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// -- the URL: every filter lives there, so a link shows what you see ----------------------------------------
function linkFor(changes = {}) {
  const next = { ...view, ...changes };
  const link = new URL(location.pathname, location.origin);
  if (token) link.searchParams.set("token", token);
  for (const name of ["q", "table", "destination", "status", "record"]) {
    if (next[name]) link.searchParams.set(name, next[name]);
  }
  if (next.sort !== "period_start") link.searchParams.set("sort", next.sort);
  if (next.order !== "desc") link.searchParams.set("order", next.order);
  return link.pathname + link.search;
}

function setView(changes, { push = false } = {}) {
  Object.assign(view, changes);
  history[push ? "pushState" : "replaceState"](null, "", linkFor());
}

// -- formatting ------------------------------------------------------------------------------------------
const numberFormat = new Intl.NumberFormat("en-US");
const fmtInt = (n) => (n == null ? "" : numberFormat.format(n));

function fmtBytes(size) {
  if (size == null) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let unit = 0;
  while (Math.abs(size) >= 1000 && unit < units.length - 1) { size /= 1000; unit += 1; }
  return unit === 0 ? `${size} B` : `${size.toFixed(1)} ${units[unit]}`;
}

const fmtRatio = (ratio) => (ratio == null ? "–" : `${ratio.toFixed(1)}×`);

function parseStamp(text) {
  if (!text) return null;
  // the cache writes UTC, sometimes without a zone (periods): never read those as local time
  const when = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : text + "Z");
  return Number.isNaN(when.getTime()) ? null : when;
}

function fmtWhen(text) {
  const when = parseStamp(text);
  return when ? when.toISOString().replace("T", " ").slice(0, 16) + " UTC" : "";
}

function fmtAgo(text) {
  const when = parseStamp(text);
  if (!when) return "";
  const seconds = Math.max(0, (Date.now() - when.getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 86400 * 60) return `${Math.floor(seconds / 86400)} d ago`;
  return fmtWhen(text).slice(0, 10);
}

function periodLabel(record) {
  const start = (record.period_start || "").replace("T", " ");
  switch (record.duration) {
    case "hourly": return start.slice(0, 13) + ":00";
    case "monthly": return start.slice(0, 7);
    case "yearly": return start.slice(0, 4);
    case "weekly": return `week of ${start.slice(0, 10)}`;
    default: return start.slice(0, 10);
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

const badge = (state) => el("span", { class: `badge ${state}`, text: STATE_LABELS[state] || state });

// -- tables ----------------------------------------------------------------------------------------------
function renderTotals(tables) {
  const body = $("#totals tbody");
  body.replaceChildren();
  $("#no-tables").hidden = tables.length > 0;
  $("#totals").hidden = tables.length === 0;
  const multi = destinations.length > 1;
  for (const t of tables) {
    const name = multi ? `${t.table} · ${destinationName(t.destination)}` : t.table;
    const link = el("a", { href: linkFor({ table: t.table, destination: multi ? t.destination : "", record: "" }),
                           text: name, class: "table-link" });
    link.addEventListener("click", (event) => {
      event.preventDefault();
      setView({ table: t.table, destination: multi ? t.destination : "", record: "", limit: PAGE }, { push: true });
      syncControls();
      reload();
    });
    const states = el("span", { class: "states" });
    for (const state of ["archived", "verified", "problem", "failed"]) {
      if (t[state]) states.append(el("span", { class: `pill ${state}`, title: STATE_LABELS[state],
                                               text: `${fmtInt(t[state])} ${STATE_LABELS[state].toLowerCase()}` }));
    }
    const first = (t.first_period || "").slice(0, 10), last = (t.last_period || "").slice(0, 10);
    body.append(el("tr", {},
      el("td", { "data-label": "Table" }, link),
      el("td", { class: "num", "data-label": "Objects", text: fmtInt(t.objects) }),
      el("td", { class: "num", "data-label": "Rows", text: fmtInt(t.rows) }),
      el("td", { class: "num", "data-label": "Original", text: fmtBytes(t.bytes_in) }),
      el("td", { class: "num", "data-label": "Stored", text: fmtBytes(t.bytes_out) }),
      el("td", { class: "num", "data-label": "Ratio", text: fmtRatio(t.ratio) }),
      el("td", { "data-label": "Periods", text: first === last ? first : `${first} → ${last}` }),
      el("td", { "data-label": "States" }, states)));
  }
}

function destinationName(id) {
  const found = destinations.find((d) => d.id === id);
  return found ? found.destination : id;
}

// -- records ---------------------------------------------------------------------------------------------
function renderRecords(answer) {
  const body = $("#records tbody");
  body.replaceChildren();
  for (const r of answer.records) {
    const recordId = `${r.destination}/${r.key}`;
    const verified = r.verified_at
      ? el("span", { title: `${fmtWhen(r.verified_at)}: ${r.verify_outcome}`,
                     text: `${r.verify_outcome === "ok" ? "ok" : "problem"} · ${fmtAgo(r.verified_at)}` })
      : el("span", { class: "muted", text: "never" });
    const row = el("tr", { tabindex: "0", "data-key": r.key, class: flash.has(recordId) ? "flash" : null,
                           "aria-label": `${r.key}: ${r.state}` },
      el("td", { "data-label": "Status" }, badge(r.state)),
      el("td", { "data-label": "Table", text: r.table }),
      el("td", { "data-label": "Period", text: periodLabel(r) }),
      el("td", { class: "num", "data-label": "Rows", text: fmtInt(r.rows) }),
      el("td", { class: "num", "data-label": "Original", text: fmtBytes(r.bytes_in) }),
      el("td", { class: "num", "data-label": "Stored", text: fmtBytes(r.bytes_out) }),
      el("td", { class: "num", "data-label": "Ratio", text: fmtRatio(r.ratio) }),
      el("td", { "data-label": "Archived", title: fmtWhen(r.finished_at || r.error_at),
                 text: fmtAgo(r.finished_at || r.error_at) }),
      el("td", { "data-label": "Verified" }, verified),
      el("td", { class: "key-col", "data-label": "Object" },
         el("span", { class: "key", title: r.key, text: r.key.slice(r.key.lastIndexOf("/") + 1) }),
         r.error ? el("span", { class: "error-line", text: r.error }) : null));
    const open = () => openDetail(r.destination, r.key, true);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    body.append(row);
  }
  flash = new Set();
  const shown = answer.records.length;
  $("#count").textContent = answer.total === shown
    ? `${fmtInt(answer.total)} record${answer.total === 1 ? "" : "s"}`
    : `${fmtInt(shown)} of ${fmtInt(answer.total)} records`;
  $("#empty").hidden = answer.total > 0;
  $("#records").hidden = answer.total === 0;
  $("#more").hidden = shown >= answer.total;
  for (const th of document.querySelectorAll("#records th[data-sort]")) {
    const sorted = th.dataset.sort === view.sort;
    th.setAttribute("aria-sort", sorted ? (view.order === "asc" ? "ascending" : "descending") : "none");
  }
}

function renderTableOptions(tables) {
  const select = $("#table");
  const names = [...new Set(tables.map((t) => t.table))].sort();
  if (view.table && !names.includes(view.table)) names.push(view.table);
  select.replaceChildren(el("option", { value: "", text: "All tables" }),
                         ...names.map((n) => el("option", { value: n, text: n })));
  select.value = view.table;
  const dest = $("#destination");
  dest.hidden = destinations.length < 2;
  dest.replaceChildren(el("option", { value: "", text: "All destinations" }),
                       ...destinations.map((d) => el("option", { value: d.id, text: d.destination })));
  dest.value = view.destination;
}

// -- one record ------------------------------------------------------------------------------------------
const DETAIL_FIELDS = [
  ["Status", (r) => badge(r.state)],
  ["Key", (r) => el("code", { text: r.key })],
  ["Destination", (r) => destinationName(r.destination)],
  ["Table", (r) => r.table],
  ["Sources", (r) => r.sources || "–"],
  ["Period", (r) => `${fmtWhen(r.period_start)} → ${fmtWhen(r.period_end)} (${r.duration})`],
  ["Format", (r) => [r.format, r.compression].filter(Boolean).join(" + ") || "–"],
  ["Rows", (r) => fmtInt(r.rows)],
  ["Original size", (r) => `${fmtBytes(r.bytes_in)} (${fmtInt(r.bytes_in)} bytes)`],
  ["Stored size", (r) => `${fmtBytes(r.bytes_out)} (${fmtInt(r.bytes_out)} bytes)`],
  ["Ratio", (r) => fmtRatio(r.ratio)],
  ["SHA-256", (r) => el("code", { class: "hash", text: r.sha256 || "–" })],
  ["ETag", (r) => el("code", { class: "hash", text: r.etag || "–" })],
  ["Started", (r) => fmtWhen(r.started_at) || "–"],
  ["Finished", (r) => (r.finished_at ? `${fmtWhen(r.finished_at)} (${fmtAgo(r.finished_at)})` : "–")],
  ["Took", (r) => (r.seconds ? `${r.seconds.toFixed(1)} s` : "–")],
  ["Last error", (r) => (r.error ? el("span", { class: "error-text", text: `${r.error} (${fmtWhen(r.error_at)})` }) : "–")],
  ["Verified", (r) => (r.verified_at ? `${fmtWhen(r.verified_at)} (${fmtAgo(r.verified_at)})` : "never")],
  ["Verify outcome", (r) => r.verify_outcome || "–"],
];

async function openDetail(destination, key, push) {
  let record;
  try {
    record = await api(`records/${encodeURIComponent(destination)}/${key.split("/").map(encodeURIComponent).join("/")}`);
  } catch (error) {
    setView({ record: "" });
    return;
  }
  const body = $("#detail-body");
  body.replaceChildren();
  for (const [label, value] of DETAIL_FIELDS) body.append(el("dt", { text: label }), el("dd", {}, value(record)));
  $("#detail-title").textContent = periodLabel(record) + " · " + record.table;
  setView({ record: `${destination}/${key}` }, { push });
  $("#detail-permalink").href = linkFor();
  const dialog = $("#detail");
  if (!dialog.open) dialog.showModal();
}

// -- runs in progress ------------------------------------------------------------------------------------
function bar(fraction, label) {
  const fill = el("span", { class: "fill" });
  fill.style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 1000) / 10}%`;
  return el("span", { class: "bar", role: "progressbar", "aria-label": label,
                      "aria-valuenow": String(Math.round(fraction * 100)), "aria-valuemin": "0",
                      "aria-valuemax": "100" }, fill);
}

function renderRuns(runs) {
  const list = $("#run-list");
  list.replaceChildren();
  $("#runs").hidden = runs.length === 0;
  for (const run of runs) {
    const jobs = run.jobs || 0;
    const fraction = jobs ? run.done / jobs : 0;
    const outcomes = Object.entries(run.outcomes || {}).map(([name, n]) =>
      el("span", { class: `pill outcome-${name}`, text: `${fmtInt(n)} ${name}` }));
    const rowsText = run.estimated_rows
      ? `${fmtInt(run.rows_now)} of ~${fmtInt(run.estimated_rows)} rows` : `${fmtInt(run.rows_now)} rows`;
    const workers = el("div", { class: "workers" });
    for (const w of run.workers_active || []) {
      const wFraction = w.estimated_rows ? w.rows / w.estimated_rows : 0;
      const rate = w.seconds > 0 ? `${(w.bytes_in / 1e6 / w.seconds).toFixed(1)} MB/s` : "";
      workers.append(el("div", { class: "worker" },
        el("span", { class: "worker-n", text: `#${w.worker}` }),
        el("span", { class: "worker-label", title: w.key, text: w.label }),
        el("span", { class: `stage stage-${w.stage}`, text: w.stage }),
        bar(wFraction, `worker ${w.worker} rows`),
        el("span", { class: "worker-figures",
                     text: `${fmtInt(w.rows)}${w.estimated_rows ? " / " + fmtInt(w.estimated_rows) : ""} rows · ` +
                           `${fmtBytes(w.bytes_in)} → ${fmtBytes(w.bytes_out)}${rate ? " · " + rate : ""}` })));
    }
    if (!(run.workers_active || []).length) workers.append(el("p", { class: "muted", text: "between objects…" }));
    const recent = el("ul", { class: "recent" });
    for (const r of (run.recent || []).slice(0, 4)) {
      recent.append(el("li", {}, el("span", { class: `pill outcome-${r.outcome}`, text: r.outcome }),
                       el("span", { class: "key", text: r.key }),
                       r.reason ? el("span", { class: "muted", text: ` ${r.reason}` }) : null));
    }
    list.append(el("article", { class: "run", "data-command": run.command },
      el("header", {},
        el("span", { class: `command ${run.command}`, text: run.dry_run ? `${run.command} (dry run)` : run.command }),
        el("strong", { text: (run.tables || []).join(", ") || "…" }),
        el("span", { class: "muted", text: `→ ${run.destination}` }),
        el("span", { class: "muted right", text: `pid ${run.pid} · started ${fmtAgo(run.started_at)}` })),
      el("div", { class: "overall" },
        bar(fraction, "objects done"),
        el("span", { class: "overall-text", text: `${fmtInt(run.done)} / ${fmtInt(jobs)} objects · ${rowsText}` }),
        el("span", { class: "outcomes" }, ...outcomes)),
      workers, recent));
  }
}

// -- loading and live updates ----------------------------------------------------------------------------
async function reload() {
  const params = { q: view.q, table: view.table, destination: view.destination, status: view.status,
                   sort: view.sort, order: view.order, limit: view.limit };
  const [dest, tables, records] = await Promise.all([api("destinations"), api("tables"), api("records", params)]);
  destinations = dest.destinations;
  renderTableOptions(tables.tables);
  renderTotals(tables.tables);
  renderRecords(records);
  document.body.dataset.version = String(records.version);
}

function scheduleReload() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => { reloadTimer = null; reload().catch(showError); }, 300);
}

function showError(error) {
  setLive("error", `error: ${error.message}`);
}

function setLive(state, text) {
  $("#live").dataset.state = state;
  $("#live-text").textContent = text;
}

function listen() {
  const source = new EventSource("/api/events" + (token ? `?token=${encodeURIComponent(token)}` : ""));
  let connectedBefore = false;
  source.addEventListener("hello", () => {
    setLive("live", "live");
    if (connectedBefore) { reload().catch(showError); api("runs").then((r) => renderRuns(r.runs)); }
    connectedBefore = true;
  });
  source.addEventListener("records", (event) => {
    const data = JSON.parse(event.data);
    for (const r of data.changed) flash.add(`${r.destination}/${r.key}`);
    scheduleReload();
  });
  source.addEventListener("runs", (event) => renderRuns(JSON.parse(event.data).runs));
  source.addEventListener("resync", () => { reload().catch(showError); api("runs").then((r) => renderRuns(r.runs)); });
  source.onerror = () => setLive("reconnecting", "reconnecting…");
}

// -- controls --------------------------------------------------------------------------------------------
function syncControls() {
  $("#q").value = view.q;
  $("#table").value = view.table;
  $("#destination").value = view.destination;
  for (const button of document.querySelectorAll("#status button")) {
    button.setAttribute("aria-pressed", String(button.dataset.status === view.status));
  }
}

function bindControls() {
  let typing = null;
  $("#q").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { setView({ q: $("#q").value.trim(), limit: PAGE }); reload().catch(showError); }, 200);
  });
  $("#filters").addEventListener("submit", (event) => event.preventDefault());
  $("#table").addEventListener("change", () => { setView({ table: $("#table").value, limit: PAGE }, { push: true }); reload().catch(showError); });
  $("#destination").addEventListener("change", () => {
    setView({ destination: $("#destination").value, limit: PAGE }, { push: true });
    reload().catch(showError);
  });
  for (const button of document.querySelectorAll("#status button")) {
    button.addEventListener("click", () => {
      setView({ status: button.dataset.status, limit: PAGE }, { push: true });
      syncControls();
      reload().catch(showError);
    });
  }
  for (const th of document.querySelectorAll("#records th[data-sort]")) {
    const button = el("button", { type: "button", class: "sort", text: th.textContent });
    th.replaceChildren(button);
    button.addEventListener("click", () => {
      const same = view.sort === th.dataset.sort;
      setView({ sort: th.dataset.sort, order: same && view.order === "desc" ? "asc" : "desc" }, { push: true });
      reload().catch(showError);
    });
  }
  $("#more").addEventListener("click", () => { view.limit += PAGE; reload().catch(showError); });
  $("#detail").addEventListener("close", () => setView({ record: "" }));
  window.addEventListener("popstate", () => {
    const now = new URL(location.href).searchParams;
    setView({ q: now.get("q") || "", table: now.get("table") || "", destination: now.get("destination") || "",
              status: now.get("status") || "", sort: now.get("sort") || "period_start",
              order: now.get("order") === "asc" ? "asc" : "desc", record: now.get("record") || "", limit: PAGE });
    syncControls();
    reload().catch(showError);
  });
  $("#home").href = linkFor({ q: "", table: "", destination: "", status: "", record: "", sort: "period_start",
                              order: "desc" });
}

async function start() {
  bindControls();
  syncControls();
  history.replaceState(null, "", linkFor());
  try {
    await reload();
    renderRuns((await api("runs")).runs);
  } catch (error) {
    showError(error);
  }
  listen();
  if (view.record) {
    const slash = view.record.indexOf("/");
    openDetail(view.record.slice(0, slash), view.record.slice(slash + 1), false);
  }
  setInterval(() => api("runs").then((r) => renderRuns(r.runs)).catch(() => {}), 30000);  // refresh "ago" texts
}

start();
