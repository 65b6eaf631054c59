// ConsoleIT: the console's frame time under a simulated 64-node session over 500 enrolled nodes.
// Feeds the page's own message path (window.consoleFeed, JSON text as the stream carries it) two
// live messages a second for 10 s, the daemon's rate, and measures frame intervals with
// requestAnimationFrame (Performance API clock). Calls back with the figures.
const callback = arguments[arguments.length - 1];
const hex = i => ("0" + i.toString(16)).slice(-2);
const mac = i => "52:54:00:01:" + hex(i >> 8) + ":" + hex(i & 255);
const total = 1 << 30;
const now = Date.now();
const nodes = [];
for (let i = 0; i < 500; i++) {
  nodes.push({mac: mac(i), name: "n" + String(i).padStart(3, "0"), group: i < 64 ? "rack1" : "rack2", action: i < 64 ? "reimage" : "local",
    state: i < 64 ? "imaging" : "idle", detail: null, arch: "x86_64-efi", ip: "10.77.1." + (i % 250), firstSeen: now, lastSeen: now,
    reservedIp: null, targetDisk: null, sshHostKey: null});
}
const members = nodes.slice(0, 64).map(n => ({mac: n.mac, name: n.name, state: "receiving", bytesDone: 0, bytesTotal: total,
  target: "/dev/sda", detail: null, updated: now, receivingSince: now, finished: null, wire: null}));
const session = {id: 9001, image: "golden", nodes: "rack1", minReceivers: 64, maxWait: 300, port: 9001, state: "running",
  detail: null, created: now, started: now, ended: null, bytesSent: 0, packetsSent: 0, repairPackets: 0, members};
window.consoleFeed("state", JSON.stringify({all: true, nodes, sessions: [session], sessionOrder: [9001], images: [], captures: []}));

const seconds = 10;
const frames = [];
const start = performance.now();
let last = start;
let tick = 0;
const messagesBefore = window.consoleStats.messages;
const renderBefore = window.consoleStats.renderMs;
window.consoleStats.renderMaxMs = 0;
const feed = setInterval(() => {
  tick++;
  const t = tick / 2;
  const live = {time: now + tick * 500, sessions: [{id: 9001, bytesSent: t * 100e6, transferring: true,
    wireRate: 100e6 + 5e6 * Math.sin(t), repairShare: 0.02 + 0.01 * Math.sin(t / 3),
    nodes: members.map((m, i) => {
      const rate = total / (40 + i % 20);
      const done = Math.min(total, Math.round(t * rate));
      return [m.mac, done >= total ? "identity" : "receiving", done, total, Math.round(rate), done >= total ? -1 : Math.ceil((total - done) / rate)];
    }), bytesDone: 0, bytesTotal: 64 * total, nodeRate: total / 50, eta: Math.max(0, 59 - t)}]};
  window.consoleFeed("live", JSON.stringify(live));
  if (tick % 4 === 0) {
    window.consoleFeed("events", JSON.stringify([{id: tick, time: Date.now(), kind: "agent", mac: members[tick % 64].mac,
      session: "9001", message: "a simulated event"}]));
  }
}, 500);
function frame(ts) {
  frames.push(ts - last);
  last = ts;
  if (ts - start < seconds * 1000) { requestAnimationFrame(frame); return; }
  clearInterval(feed);
  const sorted = frames.slice().sort((a, b) => a - b);
  const messages = window.consoleStats.messages - messagesBefore;
  callback({frames: frames.length, seconds: (ts - start) / 1000, mean: frames.reduce((a, b) => a + b, 0) / frames.length,
    p95: sorted[Math.floor(sorted.length * 0.95)], max: sorted[sorted.length - 1], messages,
    renderPerMessage: (window.consoleStats.renderMs - renderBefore) / Math.max(1, messages), renderMax: window.consoleStats.renderMaxMs,
    gridCells: document.querySelectorAll("#grid a").length, tableRows: document.querySelectorAll("#nodes tbody tr").length});
}
requestAnimationFrame(ts => { last = ts; requestAnimationFrame(frame); });
