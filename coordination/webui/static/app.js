// The SlipStream web view: runs as the coordinator sees them, live.
//
// It reads the coordinator's API (/v1) with the token the user enters
// once; the token stays in this tab's sessionStorage and travels only in
// the Authorization header (never in a URL, which logs keep). Every value
// is put on the page as text (textContent), never as HTML: parameters are
// written by scripts on the machines and are not trusted. The API never
// sends a sensitive value here: the page shows "(sensitive)" in its place.
"use strict";

const TOKEN_KEY = "slipstream.token";
const PAGE = 50;
const RUN_STATES = ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready", "Finalizing", "Done"];
const INSTANCE_STATES = ["Booting", "Working", "Waiting", "Completed", "Ready", "Done", "Failed", "Aborted"];

// ---- small helpers -------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const fmt = new Intl.NumberFormat("en");
const num = (n) => fmt.format(n || 0);

function ago(t) {
  if (!t) return "";
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

function clock(t) {
  return t ? new Date(t).toLocaleString() : "";
}

function main() { return document.getElementById("main"); }

// ---- the API -------------------------------------------------------------

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(path, opts) {
  const res = await fetch("/v1" + path, Object.assign({
    headers: { "Authorization": "Bearer " + token() },
    cache: "no-store",
    credentials: "omit",
  }, opts || {}));
  if (!res.ok) {
    let code = "http_" + res.status, message = res.statusText;
    try { const b = await res.json(); code = b.error.code; message = b.error.message; } catch (_) { /* not JSON */ }
    if (res.status === 401) signOut(message);
    throw new APIError(res.status, code, message);
  }
  return res;
}

const getJSON = async (path) => (await api(path)).json();
const enc = encodeURIComponent;

// ---- signing in ----------------------------------------------------------

let role = "";

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopPage();
  showSignIn(why || "");
}

function showSignIn(message) {
  document.getElementById("signout").hidden = true;
  document.getElementById("role").textContent = "";
  document.getElementById("crumbs").replaceChildren();
  const input = el("input", { id: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true, "aria-label": "token" });
  const form = el("form", { id: "signin", class: "card signin" },
    el("h1", {}, "Watch your runs"),
    el("p", {}, "Paste the coordinator's admin token, or a viewer token (", el("code", {}, "slipc token viewer"),
      "): a viewer sees everything but the secrets, and can change nothing. The token is kept in this tab only."),
    el("label", { for: "token" }, "Token"), input,
    el("button", { type: "submit" }, "Open"),
    message ? el("p", { id: "signin-error", class: "error" }, message) : null);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await whoAmI();
      route();
    } catch (e) {
      if (!(e instanceof APIError && e.status === 401)) showSignIn(e.message);
    }
  });
  main().replaceChildren(form);
  input.focus();
}

// whoAmI asks what the token may do: the admin's, or a viewer's (maybe of
// one deployment, until it expires).
async function whoAmI() {
  const me = await getJSON("/whoami");
  role = me.role;
  document.getElementById("role").textContent = role === "viewer"
    ? "viewer" + (me.deployment ? " of " + me.deployment : "") + " until " + clock(me.expires)
    : role;
  document.getElementById("signout").hidden = false;
}

// ---- routing -------------------------------------------------------------

let page = null; // the page shown: its stop() ends its timers and stream

function stopPage() {
  if (page) page.stop();
  page = null;
  document.getElementById("live").hidden = true;
}

function route() {
  stopPage();
  if (!token()) { showSignIn(); return; }
  const m = location.hash.match(/^#\/d\/(.+)$/);
  page = m ? new DeploymentPage(decodeURIComponent(m[1])) : new ListPage();
  page.start();
}

// ---- the deployments list ------------------------------------------------

class ListPage {
  constructor() { this.timer = 0; this.stopped = false; }
  start() {
    document.getElementById("crumbs").replaceChildren(el("span", {}, "Deployments"));
    this.table = el("table", { id: "deployments", class: "grid" });
    main().replaceChildren(el("section", { class: "card" }, el("h1", {}, "Deployments"), this.table));
    this.refresh();
  }
  stop() { this.stopped = true; clearTimeout(this.timer); }
  async refresh() {
    try {
      const { deployments } = await getJSON("/deployments?states=1");
      if (this.stopped) return;
      this.render(deployments);
    } catch (e) {
      if (this.stopped) return;
      this.table.replaceChildren(el("caption", { class: "error" }, e.message));
    }
    if (!this.stopped) this.timer = setTimeout(() => this.refresh(), 3000);
  }
  render(list) {
    const head = el("tr", {}, ["Deployment", "State", "Instances", "By state", "Age", ""].map((h) => el("th", {}, h)));
    const rows = list.map((d) => el("tr", { class: d.abort ? "aborted" : "", "data-id": d.id },
      el("td", {}, el("a", { href: "#/d/" + enc(d.id) }, d.id)),
      el("td", {}, el("span", { class: "state s-" + d.state }, d.state)),
      el("td", { class: "num" }, num(d.instances)),
      el("td", {}, stateChips(d.states || {})),
      el("td", {}, ago(d.created)),
      el("td", {}, d.abort ? el("span", { class: "abort-flag", title: d.abort }, "aborted") : "")));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6 }, "No deployment yet: terraform apply a compiled recipe.")));
    this.table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
  }
}

function stateChips(states, onPick, picked) {
  return el("span", { class: "chips" }, INSTANCE_STATES.filter((s) => states[s]).map((s) =>
    el(onPick ? "button" : "span", {
      type: onPick ? "button" : undefined, class: "chip i-" + s + (picked === s ? " picked" : ""),
      "data-state": s, onclick: onPick ? () => onPick(s) : undefined,
    }, s + " " + num(states[s]))));
}

// ---- a deployment --------------------------------------------------------

class DeploymentPage {
  constructor(id) {
    this.id = id;
    this.base = "/deployments/" + enc(id);
    this.filter = { node: "", state: "", match: "", offset: 0 };
    this.open = null;          // the instance whose parameters are shown
    this.stopped = false;
    this.timer = 0;
    this.pending = 0;          // a refresh scheduled by events
    this.abort = new AbortController();
  }

  start() {
    document.getElementById("crumbs").replaceChildren(el("a", { href: "#/" }, "Deployments"), " / ", el("span", {}, this.id));
    this.banner = el("div", { id: "abort", hidden: true });
    this.deadlock = el("div", { id: "deadlock", hidden: true });
    this.progress = el("ol", { id: "progress", class: "progress" });
    this.barrier = el("p", { id: "barrier" });
    this.bar = el("div", { class: "bar" }, el("div", { class: "fill" }));
    this.counts = el("div", { id: "counts" });
    this.nodes = el("table", { id: "nodes", class: "grid" });
    this.waitList = el("table", { id: "waits", class: "grid" });
    this.graph = el("div", { id: "wait-graph" });
    this.instances = el("div", { id: "instances" });
    main().replaceChildren(
      this.banner, this.deadlock,
      el("section", { class: "card" }, el("h1", {}, this.id), this.progress, this.bar, this.barrier, this.counts),
      el("section", { class: "card" }, el("h2", {}, "Nodes"), this.nodes),
      el("section", { class: "card" }, el("h2", {}, "Who waits for whom"),
        el("p", { class: "hint" }, "Instances blocked in ss-get right now, on which parameter, since when."),
        el("div", { class: "waits" }, this.waitList, this.graph)),
      el("section", { class: "card" }, el("h2", {}, "Instances"), this.instances));
    this.renderInstanceControls();
    this.refresh();
    this.follow();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.pending);
    this.abort.abort();
  }

  // refresh reads the overview and the instance page shown; the waits are
  // not in the event stream (they live in the coordinator's memory), so it
  // also runs every 2 s.
  async refresh() {
    clearTimeout(this.timer);
    try {
      const o = await getJSON(this.base + "/overview");
      if (this.stopped) return;
      this.renderOverview(o);
      await this.loadInstances();
    } catch (e) {
      if (this.stopped) return;
      this.barrier.textContent = e.status === 404 ? "No such deployment (deleted?)." : e.message;
      this.barrier.className = "error";
    }
    if (!this.stopped) this.timer = setTimeout(() => this.refresh(), 2000);
  }

  soon() {
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = 0; this.refresh(); }, 300);
  }

  // follow reads the deployment's event stream (server-sent events read
  // with fetch: EventSource cannot send the Authorization header) and puts
  // each parameter change on the page, reconnecting from the last event.
  async follow() {
    let after = 0, delay = 500;
    while (!this.stopped) {
      try {
        const res = await api(this.base + "/events" + (after ? "?after=" + after : ""), { signal: this.abort.signal });
        document.getElementById("live").hidden = false;
        delay = 500;
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const ev = parseSSE(block);
            if (ev.id) after = Number(ev.id);
            if (ev.event === "parameter") this.onParameter(JSON.parse(ev.data));
            if (ev.event === "error") after = 0; // compacted: start again from what is kept
          }
        }
      } catch (e) {
        if (this.stopped || (e instanceof APIError && e.status === 401)) return;
      }
      document.getElementById("live").hidden = true;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  onParameter(ev) {
    for (const cell of document.querySelectorAll("[data-param]")) {
      if (cell.dataset.param === ev.key) setParamCell(cell, ev);
    }
    this.soon();
  }

  renderOverview(o) {
    this.o = o;
    // The abort, on top: who, when, what, and who was waiting then.
    if (o.abort) {
      const waiting = (o.abort.waiting || []).map((w) => w.instance + " waited for " + waitsFor(w));
      const more = (o.abort.waiting_total || 0) - waiting.length;
      if (more > 0) waiting.push("and " + num(more) + " more");
      this.banner.replaceChildren(
        el("strong", {}, "Aborted"),
        o.abort.by ? el("span", {}, " by ", el("b", { id: "abort-by" }, o.abort.by)) : "",
        o.abort.at ? el("span", {}, " at " + clock(o.abort.at)) : "",
        el("pre", { id: "abort-message" }, o.abort.message),
        waiting.length ? el("p", {}, "Blocked in ss-get then: " + waiting.join("; ")) : "");
      this.banner.hidden = false;
    } else this.banner.hidden = true;
    if (o.deadlocks && o.deadlocks.length) {
      this.deadlock.replaceChildren(el("strong", {}, "Deadlock"),
        ...o.deadlocks.map((c) => el("p", { class: "cycle" }, c.concat(c[0]).join(" → "), " wait for each other: nothing in the run will set what they wait for.")));
      this.deadlock.hidden = false;
    } else this.deadlock.hidden = true;

    // The run's states as a progress bar, and the barrier's count.
    const at = RUN_STATES.indexOf(o.state);
    this.progress.replaceChildren(...RUN_STATES.map((s, i) => el("li", {
      class: i < at ? "done" : i === at ? (o.abort ? "current aborted" : "current") : "",
      "aria-current": i === at ? "step" : undefined,
    }, s)));
    if (at < 0) this.progress.append(el("li", { class: "current aborted" }, o.state));
    const terminal = o.state === "Ready" || o.state === "Done";
    const pct = terminal ? 100 : o.live ? Math.round((100 * o.completed) / o.live) : 0;
    this.bar.firstChild.style.width = pct + "%";
    this.barrier.className = "";
    this.barrier.textContent = terminal
      ? num(o.instances) + " instances, the run is " + o.state
      : num(o.completed) + " / " + num(o.live) + " completed " + o.state +
        (o.live < o.instances ? " (" + num(o.instances - o.live) + " failed to start)" : "");
    this.counts.replaceChildren(stateChips(o.states, (s) => this.setFilter({ state: this.filter.state === s ? "" : s }), this.filter.state));

    // Nodes, their instances counted by state; a click shows them below.
    this.nodes.replaceChildren(
      el("thead", {}, el("tr", {}, ["Node", "Cloud", "Instances", "By state"].map((h) => el("th", {}, h)))),
      el("tbody", {}, o.nodes.map((n) => el("tr", { class: this.filter.node === n.name ? "picked" : "" },
        el("td", {}, el("button", { type: "button", class: "link", "data-node": n.name,
          onclick: () => this.setFilter({ node: this.filter.node === n.name ? "" : n.name }) }, n.name)),
        el("td", {}, n.cloud || ""),
        el("td", { class: "num" }, num(n.instances)),
        el("td", {}, stateChips(n.states))))));
    this.renderWaits(o.waits || [], o.deadlocks || [], o.waits_total || 0);
  }

  renderWaits(waits, deadlocks, total) {
    if (!waits.length) {
      this.waitList.replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "none" }, "Nobody is blocked in ss-get."))));
      this.graph.replaceChildren();
      return;
    }
    const shown = waits.slice(0, 200);
    this.waitList.replaceChildren(
      el("thead", {}, el("tr", {}, ["Instance", "waits for", "since"].map((h) => el("th", {}, h)))),
      el("tbody", {}, shown.map((w) => el("tr", { "data-waiter": w.instance },
        el("td", {}, w.instance), el("td", {}, el("code", {}, waitsFor(w))),
        el("td", { title: clock(w.since) }, ago(w.since)))),
      total > shown.length ? el("tr", {}, el("td", { colspan: 3 }, "and " + num(total - shown.length) + " more")) : null));
    this.graph.replaceChildren(waitGraph(waits, deadlocks));
  }

  renderInstanceControls() {
    this.stateSel = el("select", { id: "filter-state", "aria-label": "state",
      onchange: () => this.setFilter({ state: this.stateSel.value }) },
      el("option", { value: "" }, "every state"), INSTANCE_STATES.map((s) => el("option", { value: s }, s)));
    this.nodeSel = el("select", { id: "filter-node", "aria-label": "node", onchange: () => this.setFilter({ node: this.nodeSel.value }) },
      el("option", { value: "" }, "every node"));
    let typing = 0;
    this.matchBox = el("input", { id: "filter-match", type: "search", placeholder: "name contains…", "aria-label": "name",
      oninput: () => { clearTimeout(typing); typing = setTimeout(() => this.setFilter({ match: this.matchBox.value.trim() }), 250); } });
    this.pager = el("div", { class: "pager" });
    this.table = el("table", { id: "instance-table", class: "grid" });
    this.instances.replaceChildren(el("div", { class: "filters" }, this.nodeSel, this.stateSel, this.matchBox, this.pager), this.table);
  }

  setFilter(change) {
    Object.assign(this.filter, change, { offset: change.offset === undefined ? 0 : change.offset });
    if (this.o) this.renderOverview(this.o);
    this.loadInstances();
  }

  async loadInstances() {
    const f = this.filter;
    const q = new URLSearchParams({ offset: f.offset, limit: PAGE });
    for (const k of ["node", "state", "match"]) if (f[k]) q.set(k, f[k]);
    const seq = (this.seq = (this.seq || 0) + 1);
    const res = await getJSON(this.base + "/instances?" + q);
    if (this.stopped || seq !== this.seq) return; // a newer filter won
    this.renderInstances(res);
  }

  renderInstances(res) {
    if (this.o && this.nodeSel.options.length !== this.o.nodes.length + 1) {
      this.nodeSel.replaceChildren(el("option", { value: "" }, "every node"), this.o.nodes.map((n) => el("option", { value: n.name }, n.name)));
    }
    this.nodeSel.value = this.filter.node;
    this.stateSel.value = this.filter.state;
    const from = res.total ? res.offset + 1 : 0, to = res.offset + res.instances.length;
    this.pager.replaceChildren(
      el("button", { type: "button", disabled: res.offset === 0, onclick: () => this.setFilter({ offset: Math.max(0, res.offset - PAGE) }) }, "‹ previous"),
      el("span", { id: "page-info" }, num(from) + "–" + num(to) + " of " + num(res.total)),
      el("button", { type: "button", disabled: to >= res.total, onclick: () => this.setFilter({ offset: res.offset + PAGE }) }, "next ›"));
    const rows = [];
    for (const i of res.instances) {
      rows.push(el("tr", { "data-instance": i.name, class: "i-row" },
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => this.toggle(i.name) }, i.name)),
        el("td", {}, el("span", { class: "chip i-" + i.state, "data-state": i.state }, i.state)),
        el("td", { class: "display" }, i.failure || i.abort || (i.waiting ? "waits for " + waitsFor(i.waiting) : "") || i.display || ""),
        el("td", {}, i.hostname || ""),
        el("td", {}, i.addresses || ""),
        el("td", {}, i.report ? reportLink(this.base, i.name) : "")));
      if (this.open === i.name) rows.push(el("tr", { class: "detail" }, el("td", { colspan: 6, id: "detail-" + i.name }, "…")));
    }
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6, class: "none" }, "No instance matches.")));
    this.table.replaceChildren(
      el("thead", {}, el("tr", {}, ["Instance", "State", "Message", "Host", "Addresses", "Report"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows));
    if (this.open) this.loadDetail(this.open);
  }

  toggle(name) {
    this.open = this.open === name ? null : name;
    this.loadInstances();
  }

  async loadDetail(name) {
    const i = await getJSON(this.base + "/instances/" + enc(name));
    const cell = document.getElementById("detail-" + name);
    if (!cell || this.stopped) return;
    cell.replaceChildren(el("table", { class: "params" },
      el("thead", {}, el("tr", {}, el("th", {}, "Parameter"), el("th", {}, "Value"))),
      el("tbody", {}, i.params.map((p) => {
        const v = el("td", { "data-param": name + ":" + p.name });
        setParamCell(v, { value: p.value, sensitive: p.sensitive, deleted: !p.set });
        return el("tr", {}, el("td", {}, p.name + (p.output ? " (output)" : "")), v);
      }))));
  }
}

// waitsFor names the parameter whose value ends a wait, and the input it
// reaches the waiter through when it is mapped: "db.1:password (as db_password)".
function waitsFor(w) {
  if (!w.for || w.for === w.key) return w.key;
  return w.for + " (as " + w.key.split(":")[1] + ")";
}

function parseSSE(block) {
  const ev = { data: "" };
  for (const line of block.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const k = line.slice(0, i), v = line.slice(i + 1).replace(/^ /, "");
    if (k === "data") ev.data += v; else ev[k] = v;
  }
  return ev;
}

function setParamCell(cell, ev) {
  cell.classList.remove("sensitive", "unset");
  if (ev.sensitive && !ev.deleted) { cell.textContent = "(sensitive)"; cell.classList.add("sensitive"); }
  else if (ev.deleted) { cell.textContent = "(not set)"; cell.classList.add("unset"); }
  else cell.textContent = ev.value || "";
}

function reportLink(base, name) {
  if (role !== "admin") return el("span", { class: "hint", title: "reports may hold anything a script printed: the admin token downloads them" }, "kept");
  return el("button", { type: "button", class: "link", onclick: async () => {
    const blob = await (await api(base + "/reports/" + enc(name))).blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: name + ".tar.gz" });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } }, "download");
}

// waitGraph draws who waits for whom: an arrow from each waiter to the
// instance whose parameter it waits for, the arrows of a deadlock in red.
// With many waiters, those of one node waiting on one key are one vertex
// ("web ×9,998").
function waitGraph(waits, deadlocks) {
  const inCycle = new Set(deadlocks.flat());
  const group = waits.length > 24;
  const edges = new Map(); // "from|to" → {from, to, key, n, cycle}
  for (const w of waits) {
    const key = w.for || w.key;
    const owner = key.split(":")[0];
    const from = group && !inCycle.has(w.instance) ? w.instance.replace(/\.\d+$/, "") + " ×" : w.instance;
    const id = from + "|" + owner + "|" + key;
    const e = edges.get(id) || { from, to: owner, key, n: 0, cycle: inCycle.has(w.instance) && inCycle.has(owner) };
    e.n++;
    edges.set(id, e);
  }
  const list = [...edges.values()].slice(0, 60);
  const names = [...new Set(list.flatMap((e) => [e.from, e.to]))];
  const W = 520, H = Math.max(300, Math.min(520, 70 * names.length)), R = Math.min(W, H) / 2 - 45;
  const pos = new Map(names.map((n, i) => {
    const a = (2 * Math.PI * i) / names.length - Math.PI / 2;
    return [n, [W / 2 + R * Math.cos(a), H / 2 + R * Math.sin(a)]];
  }));
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "who waits for whom" },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 18, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))));
  for (const e of list) {
    const [x1, y1] = pos.get(e.from), [x2, y2] = pos.get(e.to);
    const label = e.key.split(":")[1] + (e.n > 1 ? " ×" + num(e.n) : "");
    g.append(svg("line", { x1, y1, x2, y2, class: "edge" + (e.cycle ? " cycle" : ""), "marker-end": "url(#arrow)" }),
      svg("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, class: "edge-label" }, label));
  }
  for (const n of names) {
    const [x, y] = pos.get(n);
    const count = n.endsWith(" ×") ? list.filter((e) => e.from === n).reduce((a, e) => a + e.n, 0) : 0;
    g.append(svg("g", { class: "vertex" + (inCycle.has(n) ? " cycle" : ""), "data-vertex": n },
      svg("circle", { cx: x, cy: y, r: 12 }),
      svg("text", { x, y: y + 28, "text-anchor": "middle" }, count ? n + num(count) : n)));
  }
  return g;
}

// ---- start ---------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("signout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  if (!token()) { showSignIn(); return; }
  try { await whoAmI(); route(); } catch (e) { if (!(e instanceof APIError && e.status === 401)) showSignIn(e.message); }
});
