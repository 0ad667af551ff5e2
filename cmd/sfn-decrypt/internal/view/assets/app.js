// sfn-decrypt view: renders data.json. Every value from the execution is
// put in the page with textContent or as an attribute value set through the
// DOM, never as HTML: an execution's data is attacker-controlled.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
let data = null;
const ui = { exec: 0, scope: "", state: "", event: 0 };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

function exec() { return data.executions[ui.exec]; }
function scopeByID(id) { return (exec().scopes || []).find(s => s.id === id); }
function eventsOf(scope) { return exec().events.filter(e => e.scope === scope); }

// graphFor finds the graph of a scope: the execution's, or the branch of
// the Map or Parallel state the scope belongs to.
function graphFor(id) {
  if (id === "") return exec().graph;
  const sc = scopeByID(id);
  if (!sc) return null;
  const parent = graphFor(sc.parent);
  const node = parent && parent.states.find(n => n.name === sc.state);
  if (!node || !node.branches || sc.branch < 0 || sc.branch >= node.branches.length) return null;
  return node.branches[sc.branch];
}

function outcome(name) {
  const o = (exec().outcomes[ui.scope] || {})[name];
  return o || "notreached";
}
const outcomeLabel = { succeeded: "succeeded", failed: "failed", caught: "caught", retried: "retried", running: "running", notreached: "not reached" };

function renderGraph() {
  const box = clear(document.getElementById("graph"));
  const legend = clear(document.getElementById("legend"));
  for (const o of ["succeeded", "failed", "caught", "retried", "notreached"]) legend.append(el("span", { class: "legend o-" + o }, outcomeLabel[o]));
  const g = graphFor(ui.scope);
  if (!g || !g.states || g.states.length === 0) { box.append(el("p", { class: "note" }, "No graph for this scope.")); return; }
  if (exec().rebuilt) legend.append(el("span", { class: "note" }, "graph rebuilt from the events"));
  // Layers: longest distance from StartAt over forward edges (BFS order).
  const layer = {}; const order = [];
  const q = [g.startAt]; layer[g.startAt] = 0;
  while (q.length) {
    const n = q.shift(); order.push(n);
    for (const e of g.edges || []) if (e.from === n && layer[e.to] === undefined) { layer[e.to] = layer[n] + 1; q.push(e.to); }
  }
  let maxLayer = Math.max(0, ...Object.values(layer));
  for (const n of g.states) if (layer[n.name] === undefined) layer[n.name] = ++maxLayer;
  const rows = [];
  for (const n of g.states) (rows[layer[n.name]] = rows[layer[n.name]] || []).push(n);
  const W = 150, H = 34, GX = 16, GY = 30;
  const widest = Math.max(...rows.filter(Boolean).map(r => r.length));
  const width = Math.max(widest * (W + GX) + GX, 200);
  const pos = {};
  rows.forEach((r, i) => {
    if (!r) return;
    const off = (width - r.length * (W + GX) + GX) / 2;
    r.forEach((n, j) => { pos[n.name] = { x: off + j * (W + GX), y: 10 + i * (H + GY) }; });
  });
  const height = 10 + rows.length * (H + GY);
  // Scaled down to the panel's width when wider.
  const s = svg("svg", { width: "100%", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMin meet" });
  s.style.maxWidth = width + "px";
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8b949e" }));
  defs.append(marker); s.append(defs);
  for (const e of g.edges || []) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    const d = y2 > y1 ? `M${x1},${y1} C${x1},${y1 + 20} ${x2},${y2 - 20} ${x2},${y2}` : `M${a.x + W},${a.y + H / 2} C${a.x + W + 40},${a.y} ${b.x + W + 40},${b.y + H} ${b.x + W},${b.y + H / 2}`;
    s.append(svg("path", { d, class: "edge " + e.kind }));
  }
  for (const n of g.states) {
    const p = pos[n.name];
    const o = outcome(n.name);
    const grp = svg("g", { class: "node o-" + o + (ui.state === n.name ? " selected" : ""), "data-state": n.name, "data-outcome": o, role: "button", tabindex: "0" });
    grp.append(svg("rect", { x: p.x, y: p.y, width: W, height: H }));
    const t = svg("text", { x: p.x + 8, y: p.y + 14 });
    t.textContent = n.name.length > 24 ? n.name.slice(0, 23) + "…" : n.name;
    const ty = svg("text", { x: p.x + 8, y: p.y + 27, class: "type" });
    ty.textContent = n.type || "";
    const title = svg("title"); title.textContent = n.name + " (" + n.type + "): " + outcomeLabel[o];
    grp.append(t, ty, title);
    grp.addEventListener("click", () => selectState(n.name));
    grp.addEventListener("keydown", ev => { if (ev.key === "Enter") selectState(n.name); });
    s.append(grp);
  }
  box.append(s);
  renderScopes(g);
}

// renderScopes lists the Map iterations and Parallel branches of the
// selected state (or of every such state of the graph).
function renderScopes(g) {
  const box = clear(document.getElementById("scopes"));
  const subs = (exec().scopes || []).filter(sc => sc.parent === ui.scope && (!ui.state || sc.state === ui.state));
  if (subs.length === 0) return;
  box.append(el("h3", {}, "Map iterations and Parallel branches"));
  for (const sc of subs) {
    const o = Object.values(exec().outcomes[sc.id] || {});
    const st = o.includes("failed") ? "failed" : o.includes("caught") ? "caught" : o.length ? "succeeded" : "";
    box.append(el("button", { class: "open-scope", "data-scope": sc.id, onclick: () => openScope(sc.id) }, `${sc.state}: ${sc.label}${st ? " (" + st + ")" : ""}`));
  }
}

function renderCrumbs() {
  const nav = clear(document.getElementById("crumbs"));
  const chain = [];
  for (let id = ui.scope; id !== ""; ) { const sc = scopeByID(id); if (!sc) break; chain.unshift(sc); id = sc.parent; }
  nav.append(el("button", { onclick: () => openScope("") }, "execution"));
  for (const sc of chain) nav.append(" › ", el("button", { onclick: () => openScope(sc.id) }, `${sc.state} ${sc.label}`));
}

function isFail(t) { return /(Failed|TimedOut|Aborted)$/.test(t); }

function eventRow(e, showScope) {
  const li = el("li", { class: (ui.event === e.id ? "selected " : "") + (isFail(e.type) ? "fail" : ""), "data-event": String(e.id) });
  let label = `${String(e.id).padStart(4)}  ${e.time.slice(11, 23)}  ${e.type}`;
  if (e.state) label += "  " + e.state;
  if (showScope && e.scope) { const sc = scopeByID(e.scope); if (sc) label += `  [${sc.state} ${sc.label}]`; }
  li.append(el("button", { onclick: () => { ui.scope = e.scope; ui.state = e.state; selectEvent(e.id); } }, label));
  return li;
}

function renderTimeline() {
  const ol = clear(document.getElementById("timeline"));
  for (const e of eventsOf(ui.scope)) ol.append(eventRow(e, false));
}

function renderSearch() {
  const box = clear(document.getElementById("results"));
  const q = document.getElementById("search").value.trim().toLowerCase();
  if (!q) return;
  const hits = exec().events.filter(e => e.type.toLowerCase().includes(q) || (e.state || "").toLowerCase().includes(q) || e.fields.some(f => f.text.toLowerCase().includes(q)));
  box.append(el("h3", {}, `${hits.length} event${hits.length === 1 ? "" : "s"} hold "${q}"`));
  const ol = el("ol", { id: "search-results" });
  ol.style.listStyle = "none"; ol.style.padding = "0";
  for (const e of hits) ol.append(eventRow(e, true));
  box.append(ol);
}

// markFor returns the marks of a pointer in a field; a pointer into JSON
// text inside a string ("/a#/b") marks the string ("/a").
function marksAt(field, pointer) {
  return (field.marks || []).filter(m => m.pointer.split("#")[0] === pointer);
}
function markEl(m) {
  if (m.decrypted) return el("span", { class: "mark decrypted", "data-class": m.class, title: "decrypted, class " + m.class }, "decrypted · " + m.class);
  const what = m.class ? "class " + m.class : "unknown class";
  return el("span", { class: "mark denied", "data-class": m.class, title: m.reason }, `not decrypted · ${what}: ${m.reason}`);
}

function ptr(base, key) { return base + "/" + String(key).replace(/~/g, "~0").replace(/\//g, "~1"); }

// renderJSON writes a JSON value as indented lines, each decrypted value
// or token that stayed followed by its mark.
function renderJSON(field, value, out) {
  const walk = (v, p, indent, prefix, comma) => {
    const line = el("div", { class: "line" });
    line.append("  ".repeat(indent) + prefix);
    const marks = marksAt(field, p);
    if (v !== null && typeof v === "object" && Object.keys(v).length > 0) {
      const arr = Array.isArray(v);
      line.append(arr ? "[" : "{");
      for (const m of marks) line.append(markEl(m));
      out.append(line);
      const keys = Object.keys(v);
      keys.forEach((k, i) => walk(v[k], ptr(p, k), indent + 1, arr ? "" : JSON.stringify(k) + ": ", i < keys.length - 1));
      out.append(el("div", { class: "line" }, "  ".repeat(indent) + (arr ? "]" : "}") + (comma ? "," : "")));
      return;
    }
    // A token left in place is shortened; its whole text is its title.
    let shown = JSON.stringify(v);
    if (marks.length && typeof v === "string" && v.startsWith("sfnenc:") && v.length > 48) {
      const tok = el("span", { class: "token", title: v }, JSON.stringify(v.slice(0, 32) + "…"));
      line.append(tok, comma ? "," : "");
    } else {
      line.append(shown + (comma ? "," : ""));
    }
    for (const m of marks) line.append(markEl(m));
    out.append(line);
  };
  walk(value, "", 0, "", false);
}

function renderValue(field) {
  const box = el("div", { class: "value", "data-field": field.name });
  if (field.json) {
    try { renderJSON(field, JSON.parse(field.text), box); return box; } catch (e) { /* shown as text */ }
  }
  box.append(field.text);
  for (const m of field.marks || []) box.append(markEl(m));
  return box;
}

function renderField(f) {
  const d = el("div", { class: "field" });
  d.append(el("div", { class: "field-name" }, f.name + (f.truncated ? " (truncated by Step Functions)" : "")));
  d.append(renderValue(f));
  return d;
}

// lineDiff is a longest-common-subsequence diff of two lists of lines.
function lineDiff(a, b) {
  if (a.length * b.length > 4e6) return null;
  const n = a.length, m = b.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; } else if (L[i + 1][j] >= L[i][j + 1]) out.push(["-", a[i++]]); else out.push(["+", b[j++]]);
  }
  while (i < n) out.push(["-", a[i++]]);
  while (j < m) out.push(["+", b[j++]]);
  return out;
}
function pretty(f) {
  if (!f) return null;
  try { return JSON.stringify(JSON.parse(f.text), null, 2).split("\n"); } catch (e) { return f.text.split("\n"); }
}

function renderDiff(input, output) {
  const a = pretty(input), b = pretty(output);
  if (!a || !b) return null;
  const d = lineDiff(a, b);
  const box = el("div", { class: "diff", id: "diff" });
  if (!d) { box.append("too large to compare"); return box; }
  for (const [op, line] of d) box.append(el("div", { class: "line " + (op === "+" ? "add" : op === "-" ? "del" : "same") }, op + " " + line));
  return box;
}

function fieldOf(e, name) { return e && e.fields.find(f => f.name === name); }

function renderDetail() {
  const title = document.getElementById("detail-title");
  const box = clear(document.getElementById("detail"));
  const ev = exec().events.find(e => e.id === ui.event && e.scope === ui.scope) || exec().events.find(e => e.id === ui.event);
  if (ui.state) {
    title.textContent = ui.state + " (" + outcomeLabel[outcome(ui.state)] + ")";
    const evs = eventsOf(ui.scope).filter(e => e.state === ui.state);
    const entered = evs.find(e => e.type.endsWith("StateEntered"));
    const exited = [...evs].reverse().find(e => e.type.endsWith("StateExited"));
    const inF = fieldOf(entered, "input"), outF = fieldOf(exited, "output");
    if (inF) { box.append(el("h3", {}, "Input")); box.append(renderField(inF)); }
    if (outF) { box.append(el("h3", {}, "Output")); box.append(renderField(outF)); }
    if (inF && outF) {
      const diff = renderDiff(inF, outF);
      if (diff) { box.append(el("h3", {}, "Output against input")); box.append(diff); }
    }
    box.append(el("h3", {}, "Events of this state"));
    const ol = el("ol", {}); ol.style.listStyle = "none"; ol.style.padding = "0";
    for (const e of evs) ol.append(eventRow(e, false));
    box.append(ol);
  } else if (!ev) {
    renderExecution(title, box);
  }
  if (ev) {
    box.append(el("h3", { id: "event-title" }, `Event ${ev.id}: ${ev.type}${ev.state ? " (" + ev.state + ")" : ""} at ${ev.time}`));
    if (!ui.state) title.textContent = `Event ${ev.id}: ${ev.type}`;
    const fields = el("div", { id: "event-fields" });
    for (const f of ev.fields) fields.append(renderField(f));
    if (ev.fields.length === 0) fields.append(el("p", { class: "note" }, "no data"));
    box.append(fields);
  }
}

// renderExecution shows what the console opens on: the execution's input,
// and its output or its error and cause.
function renderExecution(title, box) {
  const evs = exec().events;
  const started = evs.find(e => e.type === "ExecutionStarted");
  const end = [...evs].reverse().find(e => /^Execution(Succeeded|Failed|Aborted|TimedOut)$/.test(e.type));
  title.textContent = "Execution" + (end ? " (" + end.type.slice("Execution".length).toLowerCase() + ")" : "");
  box.setAttribute("data-open", "execution");
  const inF = fieldOf(started, "input");
  if (inF) { box.append(el("h3", {}, "Input")); box.append(renderField(inF)); }
  if (end) {
    for (const name of ["output", "error", "cause"]) {
      const f = fieldOf(end, name);
      if (f) { box.append(el("h3", {}, name[0].toUpperCase() + name.slice(1))); box.append(renderField(f)); }
    }
  }
  if (!inF && !end) box.append(el("p", { class: "note" }, "Select a state or an event."));
}

// shellQuote quotes a word for a POSIX shell: as it is if it holds only
// characters that need no quoting, else in single quotes, each single quote
// written as '\''. The words are data (a state name, a file name): quoted,
// nothing in them runs.
function shellQuote(w) {
  if (/^[A-Za-z0-9_@%+=:,.\/-]+$/.test(w)) return w;
  return "'" + w.replace(/'/g, "'\\''") + "'";
}

// reopenArgs is what the command line adds to open the page on what it
// shows: the event, or the state at the top level; a state inside a Map
// iteration or Parallel branch, or whose name holds control characters,
// is opened by its first event.
function reopenArgs() {
  if (ui.exec !== 0) return null;
  if (ui.event) return ["--event", String(ui.event)];
  if (!ui.state) return [];
  if (ui.scope === "" && !/[\u0000-\u001f\u007f-\u009f]/.test(ui.state)) return ["--state", ui.state];
  const first = eventsOf(ui.scope).find(e => e.state === ui.state);
  return first ? ["--event", String(first.id)] : [];
}

function renderCommand() {
  const code = document.getElementById("command");
  const copy = document.getElementById("copy");
  const extra = reopenArgs();
  if (!data.command || extra === null) {
    code.textContent = data.command ? "(this execution cannot be reopened by a command line)" : "(read from standard input: save it to a file to reopen it)";
    copy.disabled = true;
    return;
  }
  code.textContent = data.command.concat(extra).map(shellQuote).join(" ");
  copy.disabled = false;
}

async function copyCommand() {
  const code = document.getElementById("command");
  try {
    await navigator.clipboard.writeText(code.textContent);
    document.getElementById("copy").textContent = "Copied";
  } catch (e) {
    // No clipboard: select the text for the reader to copy.
    const r = document.createRange(); r.selectNodeContents(code);
    const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r);
  }
}

function render() {
  renderCrumbs(); renderGraph(); renderTimeline(); renderSearch(); renderDetail(); renderCommand();
  document.getElementById("copy").textContent = "Copy command";
}

// openOn applies what the command line asked the page to open on.
function openOn(o) {
  if (!o) return;
  if (o.event) {
    const ev = exec().events.find(e => e.id === o.event);
    if (ev) { ui.scope = ev.scope; ui.state = ""; ui.event = ev.id; }
  } else if (o.state) {
    ui.scope = ""; ui.state = o.state; ui.event = 0;
  }
}
function selectState(name) { ui.state = ui.state === name ? "" : name; ui.event = 0; render(); }
function selectEvent(id) { ui.event = id; render(); }
function openScope(id) { ui.scope = id; ui.state = ""; ui.event = 0; render(); }

async function main() {
  const resp = await fetch("data.json", { credentials: "same-origin", cache: "no-store" });
  data = await resp.json();
  const sel = document.getElementById("execution");
  if (data.executions.length > 1) {
    data.executions.forEach((x, i) => sel.append(el("option", { value: String(i) }, x.title)));
    sel.addEventListener("change", () => { ui.exec = Number(sel.value); openScope(""); });
  }
  for (const ev of ["input", "keyup", "change"]) document.getElementById("search").addEventListener(ev, renderSearch);
  document.getElementById("copy").addEventListener("click", copyCommand);
  openOn(data.open);
  render();
  document.body.setAttribute("data-ready", "true");
}
main();
