// The clonecast console: renders what /api/v1/stream pushes (server-sent events, no polling, no
// reloads) and acts through the HTTP API (docs/api.md) with the login cookie. Plain JavaScript,
// no build step, nothing from the internet.
"use strict";

// ---- small helpers ----------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.substring(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const $ = id => document.getElementById(id);

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  n = Number(n) || 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function rate(n) { return bytes(n) + "/s"; }

function duration(ms) {
  if (ms == null || ms < 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function percent(done, total, state) {
  if (state === "done") return 100;
  return total > 0 ? Math.floor(100 * Math.min(1, done / total)) : 0;
}

const ACTIVE = new Set(["waiting", "running"]);

// ---- the model the stream keeps up to date -----------------------------------------------------

const S = {
  nodes: new Map(),       // mac -> node
  sessions: new Map(),    // id -> session (stored members)
  order: [],              // session ids, newest first
  images: [],
  captures: [],
  daemons: [],
  events: [],
  live: new Map(),        // session id -> live figures
  points: new Map(),      // session id -> chart points [{t, wire, node, repair}]
  loggedIn: false,
};

// The page's own cost, for the docs' measurements (read by the browser test).
window.consoleStats = {messages: 0, renderMs: 0, renderMaxMs: 0};

/** A session's members with the live bytes and phase of those still at work. */
function members(s) {
  const live = S.live.get(s.id);
  const ticks = new Map();
  if (live) for (const n of live.nodes) ticks.set(n[0], n);
  return s.members.map(m => {
    const t = ticks.get(m.mac);
    if (!t || m.state === "done" || m.state === "failed") return Object.assign({eta: -1, rate: 0}, m);
    const unicast = Math.max(m.unicastBytes || 0, t[6] || 0);
    return Object.assign({}, m, {state: t[1], bytesDone: t[2], bytesTotal: t[3], rate: t[4], eta: t[5],
      unicastBytes: unicast, path: pathOf(t[2], unicast)});
  });
}

// Which path a node's chunks took (docs/unicast.md), as Member.path() says it.
function pathOf(done, unicast) {
  if (unicast > 0) return unicast >= done ? "unicast" : "both";
  return done > 0 ? "multicast" : null;
}

function pathText(m) {
  if (!m.path) return "";
  if (m.path === "both") return "by multicast and unicast (" + bytes(m.unicastBytes) + " unicast)";
  return "by " + m.path;
}

function liveSession() {
  for (const id of S.order) { const s = S.sessions.get(id); if (s && ACTIVE.has(s.state)) return s; }
  return S.order.length ? S.sessions.get(S.order[0]) : null;
}

// ---- rendering, coalesced into one animation frame ---------------------------------------------

let dirty = new Set();
let frameAsked = false;

function invalidate(...parts) {
  for (const p of parts) dirty.add(p);
  if (!frameAsked) { frameAsked = true; requestAnimationFrame(render); }
}

function render() {
  frameAsked = false;
  const t0 = performance.now();
  const d = dirty;
  dirty = new Set();
  const view = currentView();
  if (d.has("sessions") || d.has("live")) { renderLive(); renderSessions(); }
  if (d.has("chart") || d.has("live") || d.has("sessions")) drawChart();
  if (d.has("nodes")) renderNodes();
  if (d.has("images") || d.has("nodes")) renderImages();
  if (d.has("captures")) renderCaptures();
  if (d.has("daemons") || d.has("images")) renderDaemons();
  if (d.has("events")) renderEvents();
  if (d.has("sessions") && view === "sessions") renderHistory();
  if (view === "detail" && (d.has("sessions") || d.has("nodes") || d.has("images") || d.has("live"))) renderDetail();
  const ms = performance.now() - t0;
  window.consoleStats.renderMs += ms;
  window.consoleStats.renderMaxMs = Math.max(window.consoleStats.renderMaxMs, ms);
}

// The live view: title, ETA, grid, failed reasons.
const cells = new Map(); // mac -> cell element
let gridSession = null;

function renderLive() {
  const s = liveSession();
  $("live-cancel").hidden = !(s && ACTIVE.has(s.state) && S.loggedIn);
  if (!s) return;
  const ms = members(s);
  const live = S.live.get(s.id);
  $("live-title").textContent = "Session " + s.id + ": " + s.image + " to '" + s.nodes + "', " + s.state
    + (s.detail ? " (" + s.detail + ")" : "");
  const eta = live && live.eta >= 0 ? "about " + duration(live.eta * 1000) + " left" : "";
  $("live-eta").textContent = ACTIVE.has(s.state) ? eta : summary(s).took;
  if (gridSession !== s.id) { $("grid").replaceChildren(); cells.clear(); gridSession = s.id; }
  const counts = {};
  for (const m of ms) {
    counts[m.state] = (counts[m.state] || 0) + 1;
    let c = cells.get(m.mac);
    if (!c) {
      c = el("a", {href: "#/node/" + m.mac, role: "listitem"}, el("i"));
      c.addEventListener("mouseenter", () => showCell(m.mac));
      c.addEventListener("focus", () => showCell(m.mac));
      cells.set(m.mac, c);
      $("grid").append(c);
    }
    const pct = percent(m.bytesDone, m.bytesTotal, m.state);
    const label = cellText(m);
    if (c.dataset.label !== label) {
      c.dataset.label = label;
      c.className = "st-" + m.state + (m.path && m.path !== "multicast" ? " path-" + m.path : "");
      c.setAttribute("aria-label", label);
      c.title = label;
      c.firstChild.style.height = (m.state === "receiving" ? pct : 0) + "%";
    }
  }
  $("grid-summary").textContent = Object.entries(counts).map(([k, v]) => v + " " + k).join(", ");
  const failed = ms.filter(m => m.state === "failed");
  $("failed").replaceChildren(failed.length ? el("ul", {"aria-label": "Failed nodes"},
    failed.map(m => el("li", {}, el("a", {href: "#/node/" + m.mac}, m.name), ": " + (m.detail || "no reason given")))) : "");
  if (shownCell) showCell(shownCell);
}

function cellText(m) {
  const pct = percent(m.bytesDone, m.bytesTotal, m.state);
  let t = m.name + ": " + m.state + " " + pct + "%";
  if (m.state === "receiving" && m.rate > 0) t += ", " + rate(m.rate);
  if (m.eta >= 0 && !["done", "failed"].includes(m.state)) t += ", about " + duration(m.eta * 1000) + " left";
  if (m.path && m.path !== "multicast") t += ", " + pathText(m);
  if (m.detail && m.state === "failed") t += ": " + m.detail;
  return t;
}

let shownCell = null;
function showCell(mac) {
  shownCell = mac;
  const s = liveSession();
  const m = s && members(s).find(x => x.mac === mac);
  if (!m) return;
  $("cell-detail").replaceChildren(el("strong", {}, m.name), " (" + mac + ") ", cellText(m).substring(m.name.length + 2),
    " · " + bytes(m.bytesDone) + " of " + bytes(m.bytesTotal), m.path ? " · " + pathText(m) : "",
    m.daemon ? " · daemon " + shortDaemon(m.daemon) : "", m.wire ? " · sender: " + m.wire : "");
}

// The daemon serving a node in a session (docs/scale.md): its address, or the first 8 characters
// of its id when the daemons are not known (yet).
function shortDaemon(id) {
  if (!id) return "";
  const d = S.daemons.find(x => x.id === id);
  return d ? d.address : id.substring(0, 8);
}

// Every per-node change of the newest session, as DashboardIT reads it.
const seen = new Map();

function renderSessions() {
  const box = $("sessions");
  const list = S.order.map(id => S.sessions.get(id)).filter(Boolean);
  if (list.length === 0) { box.replaceChildren(el("p", {class: "muted"}, "No session yet.")); return; }
  box.replaceChildren(...list.slice(0, 5).map(s => {
    const ms = members(s);
    const rows = ms.map(m => {
      const pct = percent(m.bytesDone, m.bytesTotal, m.state);
      return el("tr", {class: "state-" + m.state, "data-node": m.name},
        el("td", {}, el("a", {href: "#/node/" + m.mac}, m.name)),
        el("td", {}, el("span", {class: "bar"}, el("span", {style: "width:" + pct + "%"})), " ", pct + "%"),
        el("td", {}, bytes(m.bytesDone) + " / " + bytes(m.bytesTotal)),
        el("td", {class: "node-state"}, m.state), el("td", {}, m.eta >= 0 ? duration(m.eta * 1000) : ""),
        el("td", {}, m.detail || ""));
    });
    const big = ms.length > 32;
    return el("div", {class: "session", id: "session-" + s.id},
      el("h4", {}, el("a", {href: "#/session/" + s.id}, "Session " + s.id), " — " + s.image + " to '" + s.nodes + "' — ",
        el("span", {class: "state-" + s.state}, s.state), s.detail ? " (" + s.detail + ")" : ""),
      el("details", {open: !big}, el("summary", {}, ms.length + " node(s)"),
        el("div", {class: "scroll"}, el("table", {},
          el("thead", {}, el("tr", {}, ...["Node", "Progress", "Bytes", "State", "ETA", "Detail"].map(h => el("th", {}, h)))),
          el("tbody", {}, ...rows)))));
  }));
}

/** Records the newest session's per-node changes, per message (frames may coalesce several). */
function recordHistory() {
  const newest = S.order.length ? S.sessions.get(S.order[0]) : null;
  if (!newest) return;
  for (const m of members(newest)) {
    const line = m.name + " " + m.state + " " + percent(m.bytesDone, m.bytesTotal, m.state) + "%";
    if (seen.get(m.name) !== line) {
      seen.set(m.name, line);
      $("history").append(el("li", {}, "session " + newest.id + ": " + line));
    }
  }
}

// The throughput chart, drawn by hand on a canvas: wire rate and mean per-node rate (left axis),
// repair share (right axis, 0-100 %), up to the last two minutes.
function drawChart() {
  const canvas = $("chart");
  const s = liveSession();
  const pts = (s && S.points.get(s.id)) || [];
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 900;
  const h = canvas.clientHeight || 220;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const L = 84, R = 40, T = 8, B = 20;
  const pw = w - L - R, ph = h - T - B;
  let max = 1;
  for (const p of pts) max = Math.max(max, p.wire, p.node);
  const step = niceStep(max / 4);
  max = Math.ceil(max / step) * step;
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#5f6b76";
  g.strokeStyle = "#e2e5e9";
  g.lineWidth = 1;
  for (let v = 0; v <= max + 1e-9; v += step) {
    const y = T + ph - ph * v / max;
    g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
    g.textAlign = "right"; g.fillText(rate(v), L - 4, y + 4);
  }
  g.textAlign = "left";
  g.fillText("100 %", L + pw + 4, T + 8);
  g.fillText("0 %", L + pw + 4, T + ph);
  if (pts.length === 0) {
    g.fillText(!s ? "no session" : ACTIVE.has(s.state) ? "waiting for the transfer"
      : "rates are drawn while a transfer runs; see the session's history", L + 8, T + 16);
    $("chart-now").textContent = "";
    return;
  }
  const t1 = pts[pts.length - 1].t;
  // The time axis spans what the session has run, 20 s to 2 min, so a short session fills it.
  const span = Math.min(120000, Math.max(20000, t1 - pts[0].t));
  const x = t => L + pw - pw * (t1 - t) / span;
  const line = (color, f, scale) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    pts.forEach((p, i) => { const y = T + ph - ph * Math.min(1, f(p) / scale); if (i) g.lineTo(x(p.t), y); else g.moveTo(x(p.t), y); });
    g.stroke();
  };
  line("#1e88e5", p => p.wire, max);
  line("#2e7d32", p => p.node, max);
  line("#ef6c00", p => p.repair, 1);
  const last = pts[pts.length - 1];
  $("chart-now").textContent = "now: wire " + rate(last.wire) + ", per node " + rate(last.node) + ", repair "
    + (100 * last.repair).toFixed(1) + " %";
}

function niceStep(v) {
  const e = Math.pow(10, Math.floor(Math.log10(Math.max(v, 1))));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

// Inventory, images, captures, events.
let selected = new Set();

function renderNodes() {
  const body = document.querySelector("#nodes tbody");
  const list = [...S.nodes.values()].sort((a, b) => (a.name == null) - (b.name == null)
    || String(a.name || a.mac).localeCompare(String(b.name || b.mac), undefined, {numeric: true}));
  body.replaceChildren(...list.map(n => {
    const enrolled = n.name != null;
    const pick = enrolled ? el("input", {type: "checkbox", "aria-label": "select " + n.name, checked: selected.has(n.name),
      onchange: e => { if (e.target.checked) selected.add(n.name); else selected.delete(n.name); renderSelectors(); }}) : "";
    const name = enrolled ? el("a", {href: "#/node/" + n.mac}, n.name) : discovered(n);
    return el("tr", {class: "state-" + n.state, "data-mac": n.mac},
      el("td", {}, pick), el("td", {}, name), el("td", {}, n.mac), el("td", {}, n.group || ""), el("td", {}, n.ip || ""),
      el("td", {}, n.action), el("td", {}, n.state), el("td", {}, n.detail || ""));
  }));
  renderSelectors();
}

/** A discovered MAC: enrolled with one click under a suggested name. */
function discovered(n) {
  const input = el("input", {value: "node-" + n.mac.replace(/:/g, "").slice(-4), "aria-label": "name for " + n.mac, size: 10});
  return el("span", {class: "inline"}, el("span", {class: "muted"}, "(discovered)"), input,
    el("button", {type: "button", class: "secondary", onclick: () => act("enroll " + n.mac,
      () => api("POST", "/api/v1/nodes", {mac: n.mac, name: input.value.trim()}))}, "Enroll"));
}

function renderSelectors() {
  const nodesSel = document.querySelector("#start-session select[name=nodes]");
  const keep = nodesSel.value;
  const groups = [...new Set([...S.nodes.values()].filter(n => n.name != null && n.group).map(n => n.group))].sort();
  const opts = [el("option", {value: "all"}, "all enrolled nodes")];
  if (selected.size) opts.push(el("option", {value: "@selection"}, "the " + selected.size + " selected node(s)"));
  for (const g of groups) opts.push(el("option", {value: g}, "group " + g));
  nodesSel.replaceChildren(...opts);
  if ([...nodesSel.options].some(o => o.value === keep)) nodesSel.value = keep;
  const golden = document.querySelector("#image-capture select[name=node]");
  const gk = golden.value;
  golden.replaceChildren(...[...S.nodes.values()].filter(n => n.name != null).map(n => el("option", {value: n.mac}, n.name)));
  if (gk) golden.value = gk;
}

function renderImages() {
  const sel = document.querySelector("#start-session select[name=image]");
  const keep = sel.value;
  sel.replaceChildren(...S.images.filter(i => i.state === "ready").map(i => el("option", {value: i.name}, i.name)));
  if (keep) sel.value = keep;
  document.querySelector("#images tbody").replaceChildren(...S.images.map(i => el("tr", {class: "state-" + i.state},
    el("td", {}, el("a", {href: "#/image/" + encodeURIComponent(i.name)}, i.name)),
    el("td", {}, i.state + (i.progress ? " " + percent(i.progress.done, i.progress.total) + "%" : "")),
    el("td", {}, bytes(i.logicalSize)), el("td", {}, bytes(i.storedSize)), el("td", {title: copyNames(i)}, copies(i)),
    el("td", {}, new Date(i.created).toLocaleString()),
    el("td", {}, i.detail || ""),
    el("td", {}, el("button", {type: "button", class: "danger", disabled: !S.loggedIn,
      onclick: () => confirm("Remove image " + i.name + " and its file?") && act("remove " + i.name,
        () => api("DELETE", "/api/v1/images/" + encodeURIComponent(i.name)))}, "Remove")))));
}

// Which daemons hold an image's bytes: "2, here", "1, here 40%" (fetching), "1, here failed".
function copies(i) {
  const cs = i.copies || [];
  const mine = cs.find(c => c.self);
  const here = !mine ? "" : mine.state === "ready" ? ", here"
    : mine.state === "copying" ? ", here " + percent(mine.done, mine.total) + "%" : ", here " + mine.state;
  return cs.filter(c => c.state === "ready").length + here;
}

function copyNames(i) {
  return (i.copies || []).map(c => c.daemon.slice(0, 8) + " " + c.state).join(", ");
}

function renderDaemons() {
  document.querySelector("#daemons tbody").replaceChildren(...S.daemons.map(d => el("tr", {class: "state-" + d.state},
    el("td", {title: d.id}, d.id.slice(0, 8) + (d.self ? " (this one)" : "")), el("td", {}, d.url),
    el("td", {}, d.segment), el("td", {}, d.state))));
}

function renderCaptures() {
  document.querySelector("#captures tbody").replaceChildren(...S.captures.map(c => {
    const pct = percent(c.bytesDone, c.bytesTotal, c.state);
    return el("tr", {class: "state-" + c.state, "data-image": c.image},
      el("td", {}, c.image), el("td", {}, c.mac), el("td", {}, el("span", {class: "bar"}, el("span", {style: "width:" + pct + "%"})),
        " ", pct + "%"), el("td", {}, c.chunksHeld + " chunks, " + bytes(c.storedBytes)), el("td", {}, c.state),
      el("td", {}, c.detail || ""));
  }));
}

function renderEvents() {
  $("events").replaceChildren(...S.events.slice(-20).reverse().map(e =>
    el("li", {}, new Date(e.time).toLocaleTimeString() + "  " + e.kind + (e.mac ? " " + e.mac : "") + ": " + e.message)));
}

// ---- history after the fact ----------------------------------------------------------------------

/** How long a session took, how fast its nodes wrote, who was slowest and why. */
function summary(s) {
  const took = s.started != null ? (s.ended || Date.now()) - s.started : null;
  let slowest = null, sum = 0, count = 0;
  for (const m of members(s)) {
    if (m.receivingSince == null) continue;
    const end = m.finished || (ACTIVE.has(s.state) ? Date.now() : null);
    if (end == null) continue;
    const ms = end - m.receivingSince;
    if (m.state === "done" && ms > 0) { sum += m.bytesTotal / (ms / 1000); count++; }
    if (!slowest || ms > slowest.ms) slowest = {m, ms};
  }
  const failed = s.members.filter(m => m.state === "failed");
  let why = "";
  if (failed.length) why = failed.length + " failed, e.g. " + failed[0].name + ": " + (failed[0].detail || "no reason");
  else if (slowest) why = slowest.m.name + " (" + duration(slowest.ms) + (slowest.m.wire ? "; " + slowest.m.wire : "") + ")";
  return {took: took == null ? "not started" : "took " + duration(took), speed: count ? rate(sum / count) : "–", why};
}

function renderHistory() {
  document.querySelector("#history-table tbody").replaceChildren(...S.order.map(id => S.sessions.get(id)).filter(Boolean).map(s => {
    const x = summary(s);
    return el("tr", {class: "state-" + s.state}, el("td", {}, el("a", {href: "#/session/" + s.id}, "#" + s.id)),
      el("td", {}, s.image), el("td", {}, s.members.length + " in '" + s.nodes + "'"), el("td", {}, s.state),
      el("td", {}, x.took.replace(/^took /, "")), el("td", {}, x.speed), el("td", {}, x.why));
  }));
}

// ---- detail pages: #/node/MAC, #/image/NAME, #/session/ID -------------------------------------

function facts(pairs) {
  return el("dl", {class: "facts"}, pairs.filter(p => p[1] != null && p[1] !== "").flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function renderDetail() {
  const [, kind, key] = location.hash.split("/");
  const id = decodeURIComponent(key || "");
  const box = $("detail");
  if (kind === "node") {
    const n = S.nodes.get(id);
    if (!n) { box.replaceChildren(el("p", {}, "No node " + id + ".")); return; }
    const next = el("select", {"aria-label": "next boot"}, ["reimage", "local"].map(a => el("option", {value: a, selected: a === n.action}, a)));
    const part = S.order.map(i => S.sessions.get(i)).filter(s => s && s.members.some(m => m.mac === n.mac));
    box.replaceChildren(el("h2", {}, "Node " + (n.name || "(discovered)") + " ", el("span", {class: "muted"}, n.mac)),
      facts([["State", n.state + (n.detail ? ": " + n.detail : "")], ["Group", n.group], ["IP", n.ip], ["Reserved IP", n.reservedIp],
        ["Next boot", n.action], ["Target disk", n.targetDisk], ["Arch", n.arch],
        ["First seen", n.firstSeen ? new Date(n.firstSeen).toLocaleString() : null],
        ["Last seen", n.lastSeen ? new Date(n.lastSeen).toLocaleString() : null], ["SSH host key", n.sshHostKey]]),
      n.name != null ? el("form", {class: "card", onsubmit: e => { e.preventDefault();
        act("next boot of " + n.name, () => api("PATCH", "/api/v1/nodes/" + n.mac, {action: next.value})); }},
        el("label", {}, "Next boot ", next), el("button", {type: "submit", disabled: !S.loggedIn}, "Set next boot")) : "",
      el("h3", {}, "Sessions"),
      el("ul", {}, part.map(s => { const m = members(s).find(x => x.mac === n.mac);
        return el("li", {}, el("a", {href: "#/session/" + s.id}, "session " + s.id), ": " + m.state + (m.detail ? " (" + m.detail + ")" : "")
          + (m.wire ? "; sender: " + m.wire : "")); })));
  } else if (kind === "image") {
    const i = S.images.find(x => x.name === id);
    if (!i) { box.replaceChildren(el("p", {}, "No image " + id + ".")); return; }
    box.replaceChildren(el("h2", {}, "Image " + i.name),
      facts([["State", i.state + (i.detail ? ": " + i.detail : "")], ["Size", bytes(i.logicalSize)], ["Stored", bytes(i.storedSize)],
        ["Chunks", i.chunks], ["Image id", i.imageId], ["SHA-256", i.imageHash], ["Created", new Date(i.created).toLocaleString()]]),
      el("h3", {}, "Sessions"),
      el("ul", {}, S.order.map(x => S.sessions.get(x)).filter(s => s && s.image === i.name)
        .map(s => el("li", {}, el("a", {href: "#/session/" + s.id}, "session " + s.id), ": " + s.state + ", " + summary(s).took))));
  } else if (kind === "session") {
    const s = S.sessions.get(Number(id));
    if (!s) { box.replaceChildren(el("p", {}, "Session " + id + " is not among the newest.")); return; }
    const x = summary(s);
    const ms = members(s);
    box.replaceChildren(el("h2", {}, "Session " + s.id + ": " + s.image + " to '" + s.nodes + "'"),
      facts([["State", s.state + (s.detail ? " (" + s.detail + ")" : "")], ["Created", new Date(s.created).toLocaleString()],
        ["Took", x.took], ["Speed per node", x.speed], ["Slowest, and why", x.why],
        ["Sent", s.bytesSent ? bytes(s.bytesSent) + " in " + s.packetsSent + " packets, " + s.repairPackets + " FEC repairs" : null]]),
      ACTIVE.has(s.state) ? el("p", {}, el("button", {type: "button", class: "danger", disabled: !S.loggedIn,
        onclick: () => cancel(s.id)}, "Cancel session " + s.id)) : "",
      el("div", {class: "scroll"}, el("table", {}, el("thead", {}, el("tr", {}, ["Node", "State", "Bytes", "Path", "Daemon", "Receiving", "Took", "Sender's view", "Detail"]
        .map(h => el("th", {}, h)))), el("tbody", {}, ms.map(m => el("tr", {class: "state-" + m.state},
        el("td", {}, el("a", {href: "#/node/" + m.mac}, m.name)), el("td", {}, m.state), el("td", {}, bytes(m.bytesDone) + " / " + bytes(m.bytesTotal)),
        el("td", {}, m.path ? (m.path === "both" ? "both (" + bytes(m.unicastBytes) + " unicast)" : m.path) : ""),
        el("td", {title: m.daemon || ""}, shortDaemon(m.daemon)),
        el("td", {}, m.receivingSince ? new Date(m.receivingSince).toLocaleTimeString() : ""),
        el("td", {}, m.receivingSince && m.finished ? duration(m.finished - m.receivingSince) : ""),
        el("td", {}, m.wire || ""), el("td", {}, m.detail || "")))))));
  }
}

// ---- actions -------------------------------------------------------------------------------------

async function api(method, path, body) {
  const res = await fetch(path, {method, credentials: "same-origin", headers: {"Content-Type": "application/json"},
    body: body == null ? undefined : JSON.stringify(body)});
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    if (res.status === 401) setLoggedIn(false);
    throw new Error((data && data.error) || "HTTP " + res.status);
  }
  return data;
}

function notice(text, error) {
  $("notice").textContent = text;
  $("notice").className = error ? "error" : "";
}

async function act(what, f) {
  try {
    await f();
    notice(what + ": done");
    return true;
  } catch (e) {
    notice(what + ": " + e.message, true);
    return false;
  }
}

function cancel(id) {
  return confirm("Cancel session " + id + "? Its unfinished nodes fail and boot their disks.")
    && act("cancel session " + id, () => api("POST", "/api/v1/sessions/" + id + "/cancel"));
}

function setLoggedIn(on) {
  S.loggedIn = on;
  $("login").hidden = on;
  $("who").hidden = !on;
  for (const b of document.querySelectorAll("form.card button, #live-cancel")) b.disabled = !on;
  invalidate("sessions", "images", "nodes");
}

/** "MAC NAME [GROUP]" a line; blank lines and # comments skipped. */
function parseList(text, group) {
  const out = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const f = line.split(/[\s,;]+/);
    if (f.length < 2) throw new Error("line " + (i + 1) + ": want MAC NAME [GROUP], got '" + raw.trim() + "'");
    out.push({mac: f[0], name: f[1], group: f[2] || group || undefined});
  });
  return out;
}

function wireForms() {
  $("login").addEventListener("submit", async e => {
    e.preventDefault();
    if (await act("log in", () => api("POST", "/api/v1/login", {token: $("login-token").value.trim()}))) {
      $("login-token").value = "";
      setLoggedIn(true);
    }
  });
  $("logout").addEventListener("click", async () => { await act("log out", () => api("POST", "/api/v1/logout")); setLoggedIn(false); });
  $("live-cancel").addEventListener("click", () => { const s = liveSession(); if (s) cancel(s.id); });
  $("enroll-one").addEventListener("submit", e => {
    e.preventDefault();
    const f = new FormData(e.target);
    act("enroll " + f.get("name"), async () => {
      await api("POST", "/api/v1/nodes", {mac: f.get("mac").trim(), name: f.get("name").trim(), group: f.get("group").trim() || undefined});
      e.target.reset();
    });
  });
  $("enroll-list").addEventListener("submit", e => {
    e.preventDefault();
    const f = new FormData(e.target);
    act("enroll list", async () => {
      const list = parseList(f.get("lines"), f.get("group").trim());
      const failed = [];
      for (const n of list) {
        try { await api("POST", "/api/v1/nodes", n); } catch (err) { failed.push(n.name + ": " + err.message); }
      }
      if (failed.length) throw new Error((list.length - failed.length) + " of " + list.length + " enrolled; " + failed.join("; "));
      e.target.reset();
      notice("enrolled " + list.length + " node(s)");
    });
  });
  $("start-session").addEventListener("submit", e => {
    e.preventDefault();
    const f = new FormData(e.target);
    const nodes = f.get("nodes") === "@selection" ? [...selected] : f.get("nodes");
    act("start session", async () => {
      const s = await api("POST", "/api/v1/sessions", {image: f.get("image"), nodes, maxWait: Number(f.get("maxWait") || 300)});
      location.hash = "#/";
      notice("session " + s.id + " started: power the nodes on (or reboot them) to PXE boot");
    });
  });
  $("image-add").addEventListener("submit", e => {
    e.preventDefault();
    const f = new FormData(e.target);
    act("add image " + f.get("name"), () => api("POST", "/api/v1/images", {name: f.get("name").trim(), source: f.get("source").trim()}));
  });
  $("image-capture").addEventListener("submit", e => {
    e.preventDefault();
    const f = new FormData(e.target);
    act("capture " + f.get("name"), () => api("POST", "/api/v1/images/capture", {name: f.get("name").trim(), node: f.get("node")}));
  });
}

// ---- views (#/, #/nodes, #/images, #/sessions, #/node/MAC, ...) ----------------------------------

function currentView() {
  const h = location.hash.replace(/^#\/?/, "");
  if (h === "") return "live";
  if (["nodes", "images", "sessions"].includes(h)) return h;
  return "detail";
}

function showView() {
  const v = currentView();
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + v;
  for (const a of document.querySelectorAll("header nav a")) {
    const target = a.getAttribute("href").replace(/^#\/?/, "") || "live";
    if (target === v) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  invalidate("sessions", "nodes", "images", "chart");
  if (v === "sessions") renderHistory();
  if (v === "detail") renderDetail();
}

// ---- the stream ------------------------------------------------------------------------------------

// ?closeWhenIdle=1: stop listening once the newest session has ended, so a headless browser
// taking a screenshot or a report of a finished session sees the network go idle.
const closeWhenIdle = new URLSearchParams(location.search).has("closeWhenIdle");

function onState(m) {
  if (m.all) S.nodes.clear();
  for (const n of m.nodes || []) S.nodes.set(n.mac, n);
  for (const mac of m.removed || []) S.nodes.delete(mac);
  if (m.nodes || m.removed) invalidate("nodes");
  for (const s of m.sessions || []) S.sessions.set(s.id, s);
  if (m.sessionOrder) {
    S.order = m.sessionOrder;
    for (const id of [...S.sessions.keys()]) if (!S.order.includes(id)) S.sessions.delete(id);
  }
  if (m.sessions) invalidate("sessions");
  if (m.images) { S.images = m.images; invalidate("images"); }
  if (m.captures) { S.captures = m.captures; invalidate("captures"); }
  if (m.daemons) { S.daemons = m.daemons; invalidate("daemons"); }
}

function onLive(m) {
  const running = new Set();
  for (const s of m.sessions) {
    running.add(s.id);
    S.live.set(s.id, s);
    const pts = S.points.get(s.id) || [];
    if (s.transferring || pts.length) {
      pts.push({t: m.time, wire: s.wireRate, node: s.nodeRate, repair: s.repairShare});
      while (pts.length && m.time - pts[0].t > 120000) pts.shift();
      S.points.set(s.id, pts);
    }
  }
  for (const id of [...S.live.keys()]) if (!running.has(id)) S.live.delete(id);
  const s = liveSession();
  const l = s && S.live.get(s.id);
  $("throughput").textContent = l && l.wireRate > 0 ? rate(l.wireRate) : "";
  invalidate("live");
}

function connect() {
  const conn = $("conn");
  const source = new EventSource("/api/v1/stream");
  const handle = f => msg => {
    window.consoleStats.messages++;
    f(JSON.parse(msg.data));
    recordHistory();
    const newest = S.order.length ? S.sessions.get(S.order[0]) : null;
    if (closeWhenIdle && newest && !ACTIVE.has(newest.state)) {
      source.close();
      render();
      conn.textContent = "closed: session " + newest.id + " " + newest.state;
    }
  };
  source.onopen = () => { conn.textContent = "live"; conn.className = "conn up"; };
  source.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "conn down"; };
  const handlers = {state: handle(onState), live: handle(onLive), events: handle(onEvents)};
  for (const [name, h] of Object.entries(handlers)) source.addEventListener(name, h);
  // The same path for a test's synthetic messages (the browser test measures frame time with a
  // simulated 64-node session over 500 nodes this way).
  window.consoleFeed = (name, data) => handlers[name]({data});
}

function onEvents(list) {
  S.events.push(...list);
  if (S.events.length > 100) S.events.splice(0, S.events.length - 100);
  invalidate("events");
}

wireForms();
window.addEventListener("hashchange", showView);
window.addEventListener("resize", () => invalidate("chart"));
showView();
setLoggedIn(false);
fetch("/api/v1/login", {credentials: "same-origin"}).then(r => r.json()).then(j => setLoggedIn(!!j.loggedIn)).catch(() => {});
connect();
