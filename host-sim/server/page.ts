// The live monitoring page, served at /: plain HTML and a script, no build step. It loads
// /api/plans and /api/devices, then follows /api/stream (server-sent events) and re-renders at
// most every 200 ms: per plan the devices per state, success rate, wave and why it paused, with
// the operator's buttons; per device its state, progress, current and target versions (with
// its data components' versions) and error;
// a device's event log on click.

export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xs-ota server</title>
<style>
.comp { color: #555; font-size: smaller; margin-left: 0.4em; }
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.bar{width:120px;height:10px;background:#eee;display:inline-block;vertical-align:middle}
.bar>i{display:block;height:100%;background:#3a7}.failed{color:#b00}.success{color:#070}.rejected{color:#a60}
.paused{color:#b00;font-weight:bold}#log{white-space:pre-wrap;font:12px monospace;background:#fafafa;border:1px solid #ddd;padding:.5em;max-height:20em;overflow:auto}
tr.dev{cursor:pointer}tr.dev:hover{background:#f6f6ff}#live{font-size:12px;color:#777}
</style></head><body>
<h1>xs-ota update server <span id="live">connecting…</span></h1>
<h2>Plans</h2>
<table id="plans"><thead><tr><th>id</th><th>name</th><th>status</th><th>wave</th><th>target</th>
<th>pending</th><th>confirmed</th><th>downloading</th><th>updating</th><th>success</th><th>failed</th><th>rejected</th>
<th>success rate</th><th>paused because</th><th>actions</th></tr></thead><tbody></tbody></table>
<h2>Devices</h2>
<table id="devices"><thead><tr><th>product</th><th>device</th><th>dialect</th><th>version</th><th>plan</th><th>state</th>
<th>progress</th><th>target</th><th>error</th></tr></thead><tbody></tbody></table>
<h2>Device log <span id="logname"></span></h2><div id="log">click a device</div>
<script>
"use strict";
const $ = (s) => document.querySelector(s);
const esc = (v) => String(v ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
let selected = null;
async function get(u) { const r = await fetch(u, { cache: "no-store" }); return r.json(); }
async function act(id, a) {
  const r = await fetch("/api/plans/" + id + "/" + a, { method: "POST" });
  if (!r.ok) alert((await r.json()).error);
  schedule();
}
async function render() {
  const [plans, devices] = await Promise.all([get("/api/plans"), get("/api/devices")]);
  const targets = {};
  $("#plans tbody").innerHTML = plans.map((p) => {
    targets[p.id] = p.spec.targetVersion;
    const c = p.counts;
    const buttons = { draft: ["activate", "cancel"], active: ["pause", "cancel"], paused: ["resume", "cancel"] }[p.status] || [];
    return '<tr data-plan="' + p.id + '"><td>' + p.id + "</td><td>" + esc(p.spec.name) + '</td><td class="' + p.status + '">' + p.status + "</td><td>" + p.wave +
      "</td><td>" + esc(p.spec.targetVersion) + "</td>" +
      ["pending", "confirmed", "downloading", "updating", "success", "failed", "rejected"].map((s) => '<td class="' + s + '" data-count="' + s + '">' + c[s] + "</td>").join("") +
      '<td data-rate>' + (p.successRate === null ? "–" : Math.round(p.successRate * 100) + "%") + '</td><td data-reason>' + esc(p.pauseReason) + "</td><td>" +
      buttons.map((a) => '<button data-act="' + a + '" onclick="act(' + p.id + ",'" + a + "')\\">" + a + "</button>").join(" ") + "</td></tr>";
  }).join("");
  $("#devices tbody").innerHTML = devices.map((d) => {
    const r = d.plans.find((x) => ["pending", "confirmed", "downloading", "updating"].includes(x.state)) || d.plans[d.plans.length - 1];
    const key = d.product + "/" + d.name;
    return '<tr class="dev" data-device="' + esc(d.name) + '" onclick="pick(\\'' + esc(key) + '\\')"><td>' + esc(d.product) + "</td><td>" + esc(d.name) + "</td><td>" + d.dialect +
      '</td><td><span data-version>' + esc(d.version) + "</span>" + Object.keys(d.components || {}).map(function (c) { return ' <span class="comp" data-component="' + esc(c) + '">' + esc(c) + " " + esc(d.components[c]) + "</span>"; }).join("") + "</td><td>" + (r ? r.plan_id : "") + '</td><td data-state class="' + (r ? r.state : "") + '">' + (r ? r.state : "idle") +
      '</td><td><span class="bar"><i style="width:' + (r ? r.progress : 0) + '%"></i></span> <span data-progress>' + (r ? r.progress : 0) + "</span>%</td><td>" +
      esc(r ? targets[r.plan_id] : "") + '</td><td class="failed">' + (r && r.error_code ? esc(r.error_code + " " + r.reason) : r && r.state === "rejected" ? esc(r.reason) : "") + "</td></tr>";
  }).join("");
  if (selected) await showLog();
}
async function showLog() {
  const [product, name] = selected.split("/");
  const d = await get("/api/devices/" + encodeURIComponent(product) + "/" + encodeURIComponent(name));
  $("#logname").textContent = selected;
  $("#log").textContent = d.events.map((e) => new Date(e.at).toISOString().slice(11, 23) + " " + (e.plan_id ? "plan " + e.plan_id + " " : "") + e.kind + " " + e.detail).join("\\n");
}
function pick(key) { selected = key; showLog(); }
let timer = null;
function schedule() { if (!timer) timer = setTimeout(() => { timer = null; render(); }, 200); }
const es = new EventSource("/api/stream");
// (Re)connected: render again, for changes made before the stream was open.
es.onopen = () => { $("#live").textContent = "live"; schedule(); };
es.onerror = () => { $("#live").textContent = "reconnecting…"; };
es.addEventListener("change", schedule);
render();
</script></body></html>
`;
