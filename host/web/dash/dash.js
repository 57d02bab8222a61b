// dash.js: the dashboard's page. Reads the host's JSON document (./api)
// into the five tables and follows the live stream (./stream, Server-Sent
// Events). Builds the DOM with textContent only: nothing the host sends
// is ever parsed as HTML.
"use strict";

const MAX_ROWS = 500;      // events kept on the page
const MAX_HELD = 2000;     // events held while paused

const $ = (id) => document.getElementById(id);

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) Array.isArray(c) ? cell(tr, c[0], c[1]) : cell(tr, c);
  tbody.appendChild(tr);
  return tr;
}

function ms(v) { return v < 1 ? v.toFixed(3) + " ms" : v.toFixed(1) + " ms"; }

function ns(v) {
  if (v === undefined || v === null) return "";
  if (v < 1000) return v + " ns";
  if (v < 1e6) return (v / 1e3).toFixed(1) + " µs";
  return (v / 1e6).toFixed(2) + " ms";
}

// ---- the document -------------------------------------------------------

function showApps(doc) {
  const tb = $("apps");
  tb.replaceChildren();
  for (const a of doc.apps) {
    const probe = a.probe === "passed" ? "ok" : a.probe === "failed" ? "bad" : "muted";
    row(tb, [a.label, a.version || "-", [a.library || "(no plugin)", "mono"],
      a.abi === null ? "-" : a.abi, [ms(a.load_ms), "num"], [ms(a.ready_ms), "num"],
      [a.verdict ? a.probe + ": " + a.verdict : a.probe, probe]]);
  }
  const ul = $("warnings");
  ul.replaceChildren();
  for (const w of doc.warnings) {
    const li = document.createElement("li");
    li.textContent = w;
    ul.appendChild(li);
  }
}

function showSignals(doc) {
  const box = $("signals");
  box.replaceChildren();
  const names = $("signal-names");
  names.replaceChildren();
  const only = $("connected-only").checked;
  for (const s of doc.signals) {
    const opt = document.createElement("option");
    opt.value = s.name;
    names.appendChild(opt);
    if (only && s.receivers.length === 0) continue;
    const div = document.createElement("div");
    div.className = "signal";
    div.dataset.signal = s.name;
    const h = document.createElement("h3");
    h.textContent = s.name + "  ";
    const kind = document.createElement("span");
    kind.className = "muted";
    kind.textContent = s.kind + (s.declared_by ? ", declared by " + s.declared_by : "") +
      " · " + s.receivers.length + " receiver" + (s.receivers.length === 1 ? "" : "s");
    h.appendChild(kind);
    div.appendChild(h);
    if (s.receivers.length > 0) {
      const t = document.createElement("table");
      t.innerHTML = "<thead><tr><th>#</th><th>Owner</th><th>Receiver</th><th>Sender</th>" +
        "<th class='num'>Priority</th><th>Flags</th><th>dispatch_uid</th><th class='num'>Calls</th>" +
        "<th class='num'>Failures</th><th class='num'>p50</th><th class='num'>p99</th></tr></thead>";
      const tb = document.createElement("tbody");
      s.receivers.forEach((r, i) => {
        const st = r.stats || {};
        const flags = [r.async ? "async" : "", r.cluster ? "cluster" : ""].filter(Boolean).join(", ");
        const tr = row(tb, [i + 1, r.owner || "-", [r.receiver, "mono"], r.sender || "(any)",
          [r.priority, "num"], flags || "-", r.dispatch_uid || "-", [st.calls ?? "-", "num"],
          [st.failures ?? "-", st.failures ? "num bad" : "num"],
          [st.calls ? ns(st.p50_ns) : "-", "num"], [st.calls ? ns(st.p99_ns) : "-", "num"]]);
        tr.dataset.receiver = r.receiver;
      });
      t.appendChild(tb);
      div.appendChild(t);
    }
    box.appendChild(div);
  }
}

function showModels(doc) {
  const tb = $("models");
  tb.replaceChildren();
  for (const m of doc.models)
    row(tb, [m.label, [m.table, "mono"], [m.fields, "num"],
      m.rows === null ? ["(" + (m.error || "unknown") + ")", "num warn"] : [m.rows, "num"]]);
}

function showMigrations(doc) {
  const tb = $("migrations");
  tb.replaceChildren();
  if (!Array.isArray(doc.migrations)) {
    row(tb, [["cannot read the migrations: " + doc.migrations.error, "bad"]]);
    return;
  }
  for (const m of doc.migrations)
    row(tb, [m.app, [m.name, "mono"], [m.operations, "num"],
      m.applied ? ["[X] applied", "ok"] : ["[ ] unapplied", "warn"]]);
}

function showSettings(doc) {
  const tb = $("settings");
  tb.replaceChildren();
  for (const s of doc.settings.items)
    row(tb, [[s.key, "mono"], [s.value, "mono"], s.type.replace(/^an? /, ""),
      s.origin + (s.where ? " (" + s.where + ")" : "")]);
  if (doc.settings.truncated) row(tb, [["… more settings not shown", "muted"]]);
}

async function load() {
  try {
    const res = await fetch("api", { credentials: "same-origin", cache: "no-store" });
    if (res.status === 401) { location.reload(); return; }
    if (!res.ok) throw new Error("HTTP " + res.status);
    const doc = await res.json();
    $("project").textContent = doc.project;
    document.title = "sighost: " + doc.project;
    showApps(doc); showSignals(doc); showModels(doc); showMigrations(doc); showSettings(doc);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    window.sighostDoc = doc;
  } catch (e) {
    $("status").textContent = "cannot read the host: " + e.message;
  }
}

// ---- the live stream ----------------------------------------------------

let source = null, paused = false, held = [];

function keyArgs(e) {
  const parts = [];
  if (e.pk !== undefined) parts.push("pk=" + e.pk);
  if (e.created !== undefined) parts.push("created=" + e.created);
  if (e.action !== undefined) parts.push("action=" + e.action);
  return parts.join(" ");
}

function addEvent(e) {
  const tb = $("events");
  const tr = document.createElement("tr");
  tr.className = "fresh";
  tr.dataset.signal = e.signal;
  tr.dataset.sender = e.sender || "";
  tr.dataset.seq = e.seq;
  cell(tr, new Date(e.time_us / 1000).toISOString().slice(11, 23), "mono");
  cell(tr, e.signal);
  cell(tr, e.sender || "-");
  cell(tr, keyArgs(e), "mono");
  cell(tr, e.receivers, "num");
  cell(tr, ns(e.ns), "num");
  cell(tr, e.status === 0 ? "ok" : "error " + e.status, e.status === 0 ? "ok" : "bad");
  tb.insertBefore(tr, tb.firstChild);
  while (tb.childElementCount > MAX_ROWS) tb.removeChild(tb.lastChild);
}

function setState(text, cls) {
  const s = $("stream-state");
  s.textContent = text;
  s.className = "pill " + (cls || "");
}

function openStream() {
  if (source) source.close();
  const q = new URLSearchParams();
  const sig = $("filter-signal").value.trim(), snd = $("filter-sender").value.trim();
  if (sig) q.set("signal", sig);
  if (snd) q.set("sender", snd);
  source = new EventSource("stream" + (q.toString() ? "?" + q : ""));
  setState("connecting");
  source.addEventListener("hello", () => setState(paused ? "paused" : "live", paused ? "paused" : "live"));
  source.addEventListener("signal", (m) => {
    const e = JSON.parse(m.data);
    $("dropped").textContent = e.dropped;
    if (paused) {
      if (held.length < MAX_HELD) held.push(e);
      $("held").textContent = held.length + " held while paused";
    } else {
      addEvent(e);
    }
  });
  source.addEventListener("dropped", (m) => { $("dropped").textContent = JSON.parse(m.data).dropped; });
  source.onerror = () => setState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
}

function togglePause() {
  paused = !paused;
  $("pause").textContent = paused ? "Resume" : "Pause";
  setState(paused ? "paused" : "live", paused ? "paused" : "live");
  if (!paused) {
    for (const e of held) addEvent(e);
    held = [];
    $("held").textContent = "";
  }
}

// ---- views --------------------------------------------------------------

function showView() {
  const name = (location.hash || "#apps").slice(1);
  for (const v of document.querySelectorAll(".view"))
    v.classList.toggle("active", v.id === "view-" + name);
  for (const a of document.querySelectorAll("#tabs a"))
    a.classList.toggle("active", a.dataset.view === name);
  if (name === "stream" && !source) openStream();
}

window.addEventListener("hashchange", showView);
$("connected-only").addEventListener("change", () => window.sighostDoc && showSignals(window.sighostDoc));
$("stream-form").addEventListener("submit", (e) => { e.preventDefault(); openStream(); });
$("pause").addEventListener("click", togglePause);
$("clear").addEventListener("click", () => $("events").replaceChildren());
// The host counts the receivers' calls only while the dashboard is
// watched: reading the document every 2 s keeps it counting.
setInterval(() => {
  if (!document.hidden && (location.hash || "#apps") !== "#stream") load();
}, 2000);
load().then(showView);
