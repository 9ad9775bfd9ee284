//! A self-contained HTML/SVG timeline: one track per processor, slices for
//! `enter`/`exit` pairs, ticks for instants, a thin bar along the bottom of
//! the track for the running dispatcher (from `sched.switch` events), zoom
//! (wheel, buttons, keys), pan (drag) and a tooltip per event. No external
//! resources.
use ktrace::decode::Trace;
use serde_json::json;

use crate::{marks, processors, Lane};

/// Renders the timeline page for `trace`, titled `title`.
pub fn html(trace: &Trace, title: &str) -> String {
    let marks = marks(trace);
    let mut classes: Vec<String> = marks.iter().map(|m| m.class.clone()).collect();
    classes.sort();
    classes.dedup();
    let end = marks
        .iter()
        .map(|m| m.start_ns + m.dur_ns.unwrap_or(0.0))
        .fold(0.0f64, f64::max);
    let rows: Vec<_> = marks
        .iter()
        .map(|m| {
            json!([
                m.cpu,
                m.start_ns.round(),
                m.dur_ns.map_or(-1.0, f64::round),
                classes.binary_search(&m.class).unwrap_or(0),
                m.name,
                m.text,
                u8::from(m.lane == Lane::Dispatchers)
            ])
        })
        .collect();
    let data = json!({
        "cpus": processors(trace),
        "classes": classes,
        "end": end.round(),
        "events": rows,
    });
    // `</` must not appear inside the script element.
    let data = data.to_string().replace("</", "<\\/");
    TEMPLATE
        .replace("@TITLE@", &escape(title))
        .replace("@DATA@", &data)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@TITLE@</title>
<style>
  body { font: 13px system-ui, sans-serif; margin: 0; background: #fafafa; color: #222; }
  header { padding: 8px 12px; background: #23395d; color: #fff; display: flex; gap: 12px; align-items: center; }
  header h1 { font-size: 15px; margin: 0; flex: 1; }
  button { font: inherit; padding: 2px 10px; }
  #legend span { display: inline-block; margin-right: 10px; }
  #legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
  #view { user-select: none; cursor: grab; display: block; width: 100%; }
  #tip { position: fixed; pointer-events: none; background: #fff; border: 1px solid #999;
         padding: 4px 8px; box-shadow: 2px 2px 6px #0003; display: none; white-space: pre; }
  .label { font-weight: 600; }
</style>
</head>
<body data-status="loading">
<header>
  <h1>@TITLE@</h1>
  <span id="range"></span>
  <button id="zin" title="zoom in (+)">+</button>
  <button id="zout" title="zoom out (-)">&minus;</button>
  <button id="reset" title="show all (0)">all</button>
</header>
<div id="legend" style="padding: 4px 12px"></div>
<svg id="view" xmlns="http://www.w3.org/2000/svg"></svg>
<div id="tip"></div>
<script>
"use strict";
window.addEventListener("error", () => {
  document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
  document.body.dataset.status = "error";
});
const DATA = @DATA@;
const NS = "http://www.w3.org/2000/svg";
const TRACK = 34, TOP = 24, LEFT = 70;
const svg = document.getElementById("view");
const tip = document.getElementById("tip");
const color = (c) => `hsl(${(c * 137) % 360}, 60%, 48%)`;
const hash = (s) => { let h = 0; for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0; return h; };
const fmt = (ns) => ns >= 1e6 ? (ns / 1e6).toFixed(3) + " ms" : ns >= 1e3 ? (ns / 1e3).toFixed(3) + " us" : ns.toFixed(0) + " ns";
let v0 = 0, v1 = Math.max(DATA.end, 1);

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  parent.appendChild(e);
  return e;
}

const legend = document.getElementById("legend");
DATA.classes.forEach((c, i) => {
  const s = document.createElement("span");
  const sw = document.createElement("i");
  sw.style.background = color(i);
  s.appendChild(sw);
  s.appendChild(document.createTextNode(c));
  legend.appendChild(s);
});

function draw() {
  const width = Math.max(svg.clientWidth || document.body.clientWidth || 800, 300);
  const plot = width - LEFT - 10;
  svg.setAttribute("width", width);
  svg.setAttribute("height", TOP + DATA.cpus.length * TRACK + 10);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const x = (ns) => LEFT + (ns - v0) * plot / (v1 - v0);
  // Time axis: ten ticks.
  for (let k = 0; k <= 10; k++) {
    const t = v0 + (v1 - v0) * k / 10;
    el("line", {x1: x(t), x2: x(t), y1: TOP - 4, y2: TOP + DATA.cpus.length * TRACK, stroke: "#ddd"}, svg);
    el("text", {x: x(t), y: TOP - 8, "text-anchor": "middle", "font-size": 10}, svg).textContent = fmt(t);
  }
  const rows = new Map();
  DATA.cpus.forEach((cpu, i) => {
    const g = el("g", {class: "track", "data-cpu": cpu, transform: `translate(0, ${TOP + i * TRACK})`}, svg);
    el("rect", {x: LEFT, y: 2, width: plot, height: TRACK - 4, fill: i % 2 ? "#f0f3f8" : "#e8edf5"}, g);
    el("text", {x: 6, y: TRACK / 2 + 4, class: "label"}, g).textContent = "cpu " + cpu;
    rows.set(cpu, g);
  });
  let shown = 0;
  // Level of detail: at most one mark narrower than a pixel per pixel
  // column and track, so a large trace stays quick to draw.
  const lastPx = new Map();
  DATA.events.forEach((e, i) => {
    const [cpu, t, dur, cls, , , lane] = e;
    const end = dur < 0 ? t : t + dur;
    if (end < v0 || t > v1) return;
    const g = rows.get(cpu);
    if (!g) return;
    const x0 = Math.max(x(t), LEFT), x1 = Math.min(x(end), LEFT + plot);
    if (x1 - x0 < 1) {
      const px = Math.floor(x0), key = cpu + "/" + lane;
      if (lastPx.get(key) === px) return;
      lastPx.set(key, px);
    }
    // Instants: ticks; slices: boxes; dispatcher runs: a bar at the bottom,
    // coloured by dispatcher.
    const r = lane
      ? el("rect", {x: x0, y: TRACK - 8, width: Math.max(x1 - x0, 1), height: 5,
                    fill: `hsl(${(hash(e[4]) * 47) % 360}, 45%, 40%)`}, g)
      : dur < 0
      ? el("rect", {x: x0 - 1, y: 4, width: 2, height: TRACK - 14, fill: color(cls)}, g)
      : el("rect", {x: x0, y: 7, width: Math.max(x1 - x0, 1), height: TRACK - 20, fill: color(cls), opacity: 0.8}, g);
    r.setAttribute("data-i", i);
    shown++;
  });
  document.getElementById("range").textContent =
    `${fmt(v0)} - ${fmt(v1)} (${shown} marks drawn for ${DATA.events.length} events)`;
}

function zoom(factor, at) {
  const span = v1 - v0, c = at === undefined ? v0 + span / 2 : at;
  const ns = Math.min(Math.max(span * factor, 10), Math.max(DATA.end, 1) * 2);
  v0 = c - (c - v0) * ns / span;
  v1 = v0 + ns;
  draw();
}

function timeAt(clientX) {
  const r = svg.getBoundingClientRect();
  const plot = r.width - LEFT - 10;
  return v0 + (clientX - r.left - LEFT) * (v1 - v0) / plot;
}

svg.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  zoom(ev.deltaY < 0 ? 0.8 : 1.25, timeAt(ev.clientX));
}, {passive: false});
let drag = null;
svg.addEventListener("mousedown", (ev) => { drag = {x: ev.clientX, v0, v1}; svg.style.cursor = "grabbing"; });
window.addEventListener("mouseup", () => { drag = null; svg.style.cursor = "grab"; });
svg.addEventListener("mousemove", (ev) => {
  if (drag) {
    const r = svg.getBoundingClientRect();
    const d = (ev.clientX - drag.x) * (drag.v1 - drag.v0) / (r.width - LEFT - 10);
    v0 = drag.v0 - d; v1 = drag.v1 - d;
    draw();
    return;
  }
  const i = ev.target.getAttribute && ev.target.getAttribute("data-i");
  if (i === null || i === undefined) { tip.style.display = "none"; return; }
  const [cpu, t, dur, , name, text] = DATA.events[Number(i)];
  tip.textContent = `${name}\ncpu ${cpu}  at ${fmt(t)}` + (dur >= 0 ? `  for ${fmt(dur)}` : "") + `\n${text}`;
  tip.style.left = (ev.clientX + 12) + "px";
  tip.style.top = (ev.clientY + 12) + "px";
  tip.style.display = "block";
});
svg.addEventListener("mouseleave", () => { tip.style.display = "none"; });
document.getElementById("zin").onclick = () => zoom(0.5);
document.getElementById("zout").onclick = () => zoom(2);
document.getElementById("reset").onclick = () => { v0 = 0; v1 = Math.max(DATA.end, 1); draw(); };
window.addEventListener("keydown", (ev) => {
  if (ev.key === "+" || ev.key === "=") zoom(0.5);
  else if (ev.key === "-") zoom(2);
  else if (ev.key === "0") { v0 = 0; v1 = Math.max(DATA.end, 1); draw(); }
});
window.addEventListener("resize", draw);
draw();
document.body.dataset.tracks = String(svg.querySelectorAll("g.track").length);
// `page.html#selftest`: exercise zoom and the tooltip, and report in the
// DOM (used by the headless-browser test).
if (location.hash === "#selftest") {
  const before = v1 - v0;
  zoom(0.5, v0);
  document.body.dataset.zoomed = String(v1 - v0 < before);
  zoom(2, v0);
  const r = svg.querySelector("rect[data-i]");
  if (r) {
    const b = r.getBoundingClientRect();
    r.dispatchEvent(new MouseEvent("mousemove", {bubbles: true, clientX: b.x + 1, clientY: b.y + 1}));
  }
  document.body.dataset.tip = tip.style.display === "block" ? tip.textContent.split("\n")[0] : "";
  document.body.dataset.drawn = String(svg.querySelectorAll("rect[data-i]").length);
  document.body.dataset.width = svg.getAttribute("width");
}
if (document.body.dataset.status === "loading") document.body.dataset.status = "ok";
</script>
</body>
</html>
"##;
