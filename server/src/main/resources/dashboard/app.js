// The clonecast dashboard: renders what /api/v1/stream pushes (server-sent events); no reloads.
"use strict";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function percent(m) {
  if (m.state === "done") return 100;
  return m.bytesTotal > 0 ? Math.floor(100 * Math.min(1, m.bytesDone / m.bytesTotal)) : 0;
}

const seen = new Map(); // node name -> last "state pct" recorded in #history

function renderSessions(sessions) {
  const box = document.getElementById("sessions");
  box.replaceChildren();
  if (sessions.length === 0) { box.append(el("p", {class: "muted"}, "No session yet.")); return; }
  for (const s of sessions) {
    const rows = s.members.map(m => {
      const pct = percent(m);
      const bar = el("span", {class: "bar"}, el("span", {style: "width:" + pct + "%"}));
      return el("tr", {class: "state-" + m.state, "data-node": m.name},
        el("td", {}, m.name), el("td", {}, bar, " ", pct + "%"),
        el("td", {}, bytes(m.bytesDone) + " / " + bytes(m.bytesTotal)),
        el("td", {class: "node-state"}, m.state), el("td", {}, m.detail || ""));
    });
    box.append(el("div", {class: "session", id: "session-" + s.id},
      el("h3", {}, "Session " + s.id + " — " + s.image + " to '" + s.nodes + "' — ", el("span", {class: "state-" + s.state}, s.state),
        s.detail ? " (" + s.detail + ")" : ""),
      el("table", {}, el("thead", {}, el("tr", {}, ...["Node", "Progress", "Bytes", "State", "Detail"].map(h => el("th", {}, h)))),
        el("tbody", {}, ...rows))));
    if (s === sessions[0]) {
      for (const m of s.members) {
        const line = m.name + " " + m.state + " " + percent(m) + "%";
        if (seen.get(m.name) !== line) {
          seen.set(m.name, line);
          document.getElementById("history").append(el("li", {}, "session " + s.id + ": " + line));
        }
      }
    }
  }
}

function renderCaptures(captures) {
  const body = document.querySelector("#captures tbody");
  body.replaceChildren(...(captures || []).map(c => {
    const pct = c.state === "done" ? 100 : c.bytesTotal > 0 ? Math.floor(100 * Math.min(1, c.bytesDone / c.bytesTotal)) : 0;
    return el("tr", {class: "state-" + c.state, "data-image": c.image},
      el("td", {}, c.image), el("td", {}, c.mac), el("td", {}, el("span", {class: "bar"}, el("span", {style: "width:" + pct + "%"})),
        " ", pct + "%"), el("td", {}, c.chunksHeld + " chunks, " + bytes(c.storedBytes)), el("td", {}, c.state),
      el("td", {}, c.detail || ""));
  }));
}

function renderNodes(nodes) {
  const body = document.querySelector("#nodes tbody");
  body.replaceChildren(...nodes.map(n => el("tr", {class: "state-" + n.state},
    el("td", {}, n.name || "(discovered)"), el("td", {}, n.mac), el("td", {}, n.group || ""), el("td", {}, n.ip || ""),
    el("td", {}, n.action), el("td", {}, n.state), el("td", {}, n.detail || ""))));
}

function renderEvents(events) {
  document.getElementById("events").replaceChildren(...events.slice().reverse().map(e =>
    el("li", {}, new Date(e.time).toLocaleTimeString() + "  " + e.kind + (e.mac ? " " + e.mac : "") + ": " + e.message)));
}

// ?closeWhenIdle=1: stop listening once the newest session has ended, so a headless browser
// taking a screenshot or a report of a finished session sees the network go idle.
const closeWhenIdle = new URLSearchParams(location.search).has("closeWhenIdle");

function connect() {
  const conn = document.getElementById("conn");
  const source = new EventSource("/api/v1/stream");
  source.onopen = () => { conn.textContent = "live"; conn.className = "conn up"; };
  source.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "conn down"; };
  source.onmessage = msg => {
    const state = JSON.parse(msg.data);
    renderSessions(state.sessions);
    renderCaptures(state.captures);
    renderNodes(state.nodes);
    renderEvents(state.events);
    document.getElementById("throughput").textContent = state.throughput > 0 ? bytes(state.throughput) + "/s" : "";
    const newest = state.sessions[0];
    if (closeWhenIdle && newest && newest.state !== "waiting" && newest.state !== "running") {
      source.close();
      conn.textContent = "closed: session " + newest.id + " " + newest.state;
    }
  };
}

connect();
