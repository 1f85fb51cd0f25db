"use strict";
// materiel dashboard: vanilla JS against the JSON API; plotly.js (cartesian bundle) is served by the app.
//
// State lives in the form and is mirrored in the URL
// (?a=&b=&view=&party=&sp=&cap=&ka.<knob>=&kb.<knob>=),
// so a link reproduces the view. A knob left blank is not sent: the scenario's own value
// applies (shown as the placeholder). Each Run aborts the one in flight and only the latest
// run's answer is drawn.
const $ = (id) => document.getElementById(id);
// plotly.js (cartesian bundle, 1.5 MB) is preloaded from the page's head but run only
// once the first API calls are out (start()): running it holds the main thread for most of
// a second, and the server answers meanwhile.
let plotlyLoad = null;
function plotlyReady() {
  if (window.Plotly) return Promise.resolve();
  if (!plotlyLoad) {
    plotlyLoad = new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = "/static/plotly.min.js";
      tag.id = "plotly-js";
      tag.addEventListener("load", () => resolve());
      tag.addEventListener("error", () => { plotlyLoad = null; reject(new Error("plotly.js did not load")); });
      document.head.appendChild(tag);
    });
  }
  return plotlyLoad;
}

const KNOBS = [
  { name: "contracting_delay_months", label: "Contracting delay", unit: "months", int: true, min: 0, max: 120,
    help: "Months from the decision to buy to the signed contract, for contracts that do not give their own." },
  { name: "extra_contracting_delay_months", label: "Extra delay / later start", unit: "months", int: true, min: 0, max: 120,
    help: "Added to every contract's delay: every contract starts this many months later." },
  { name: "multi_year_share", label: "Share of annual contracts made multi-year", unit: "0 to 1", min: 0, max: 1,
    fallback: "0 (contracts as written)",
    help: "Share of each annual contract's volume, over all its repeats, turned into one firm multi-year contract. " +
      "It changes stocks only where firm orders would make industry invest; where orders, not capacity, bind it does little. " +
      "Not saved in a variant." },
  { name: "consumption_scale", label: "Consumption scale", unit: "× the scenario's rates", min: 0, max: 20,
    help: "Multiplies every consumption rate (1 = as in the scenario, 2 = twice the use)." },
  { name: "spending_target_pct_gdp", label: "Spending target", unit: "% of GDP", min: 0, max: 20,
    fallback: "the scenario's spending paths",
    help: "Every ally's defence spending moves linearly to this share of GDP. It limits or frees munitions only " +
      "when budgets are on (Budgets: defer or flag); with budgets 'none' it changes nothing on the charts." },
  { name: "spending_by_year", label: "… reached by year", unit: "year", int: true, min: 2000, max: 2100,
    fallback: "2035", help: "Year by which the spending target is reached (used only with a spending target)." },
  { name: "budget", label: "Budgets", unit: "", choices: ["none", "defer", "flag"],
    help: "Munitions budgets per ally and year: none = ignored; defer = contracts that do not fit move to the next " +
      "year with room; flag = allowed and the overrun is flagged." },
];
const SIDES = ["a", "b"];
const details = {};        // scenario id -> GET /api/scenarios/{id} answer (cached per version)
let scenarios = [];        // the catalogue
let runCount = 0;
let runSeq = 0;            // the latest run's number; answers of older runs are dropped
let inFlight = null;       // AbortController of the run in flight
let shownKey = null;       // the request the results on screen answer
let shownSummaries = null; // their summaries (A, and B when compared)

// --- API ---------------------------------------------------------------------------

function headers() {
  const h = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

class ApiError extends Error {
  constructor(message, problems) { super(message); this.problems = problems || []; }
}

async function api(method, url, body, signal) {
  const resp = await fetch(url, { method, headers: headers(), signal,
    body: body ? JSON.stringify(body) : undefined });
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    let problems = [];
    try {
      const data = await resp.json();
      if (data.problems) {
        problems = data.problems;
        msg = data.problems.map((p) => (p.file === "<request>" ? "" : p.file + " ") + (p.path ? p.path + ": " : "") + p.message).join("\n");
      } else if (data.detail) msg += ": " + (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
    } catch (e) { /* not JSON */ }
    throw new ApiError(msg, problems);
  }
  return resp;
}

// --- knobs: build, read, validate --------------------------------------------------

function knobId(side, name) { return side + "-" + name; }

function buildKnobs(side) {
  const box = $("knobs-" + side);
  for (const k of KNOBS) {
    const id = knobId(side, k.name);
    const wrap = document.createElement("div");
    wrap.className = "knob";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = k.label + (k.unit ? " (" + k.unit + ")" : "");
    let input;
    if (k.choices) {
      input = document.createElement("select");
      const blank = document.createElement("option");
      blank.value = ""; blank.textContent = "scenario's";
      input.appendChild(blank);
      for (const c of k.choices) { const o = document.createElement("option"); o.value = c; o.textContent = c; input.appendChild(o); }
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.inputMode = k.int ? "numeric" : "decimal";
      input.autocomplete = "off";
      input.placeholder = "scenario's";
    }
    input.id = id;
    input.dataset.knob = k.name;
    input.dataset.side = side;
    const help = document.createElement("span");
    help.className = "help"; help.id = id + "-help"; help.textContent = k.help;
    const err = document.createElement("span");
    err.className = "field-error"; err.id = id + "-error"; err.setAttribute("role", "alert");
    const note = document.createElement("span");
    note.className = "note"; note.id = id + "-note"; note.setAttribute("aria-live", "polite");
    input.setAttribute("aria-describedby", help.id + " " + err.id + " " + note.id);
    wrap.append(label, input, help, err, note);
    box.appendChild(wrap);
    input.addEventListener(k.choices ? "change" : "input", () => { checkField(input); changed(); });
  }
}

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The knob's value (undefined when blank) or an error message for the field. */
function parseKnob(k, raw) {
  const v = raw.trim();
  if (v === "") return { value: undefined };
  if (k.choices) return { value: v };
  if (k.int && !INT_RE.test(v)) return { error: `"${v}" is not a whole number: give ${k.unit === "year" ? "a year, e.g. 2030" : "whole months, e.g. 6"}` };
  if (!k.int && !NUM_RE.test(v)) return { error: `"${v}" is not a number (use a dot for decimals, e.g. 0.5)` };
  const n = Number(v);
  if (n < k.min || n > k.max) return { error: `${v} is out of range: from ${k.min} to ${k.max}` };
  return { value: n };
}

function setFieldError(input, message) {
  const err = $(input.id + "-error");
  err.textContent = message || "";
  if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
}

function checkField(input) {
  const k = KNOBS.find((x) => x.name === input.dataset.knob);
  const r = parseKnob(k, input.value);
  setFieldError(input, r.error);
  return r;
}

/** {knobs, errors} of one side; spending_by_year is sent only with a spending target. */
function readKnobs(side) {
  const out = {};
  const errors = [];
  for (const k of KNOBS) {
    const input = $(knobId(side, k.name));
    const r = checkField(input);
    if (r.error) errors.push(input);
    else if (r.value !== undefined) out[k.name] = r.value;
  }
  if (out.spending_target_pct_gdp === undefined) delete out.spending_by_year;
  explain(side, out);
  return { knobs: out, errors };
}

/** Say at the field when a knob cannot change anything (budgets off). */
function explain(side, knobs) {
  const d = details[$("scenario-" + side).value];
  const budget = knobs.budget || (d && d.resolved ? d.resolved.policy.budget : "none");
  const note = $(knobId(side, "spending_target_pct_gdp") + "-note");
  note.textContent = knobs.spending_target_pct_gdp !== undefined && budget === "none"
    ? "Budgets are off (none), so this target changes no contract: set Budgets to defer or flag to see its effect."
    : "";
}

function setPlaceholders(side) {
  const sid = $("scenario-" + side).value;
  const d = details[sid];
  const policy = d && d.resolved ? d.resolved.policy : null;
  for (const k of KNOBS) {
    const input = $(knobId(side, k.name));
    let shown = k.fallback || "scenario's";
    if (policy && policy[k.name] !== undefined) shown = String(policy[k.name]);
    if (k.choices) input.options[0].textContent = "scenario's" + (policy ? " (" + policy[k.name] + ")" : "");
    else input.placeholder = shown;
    input.title = "Blank: " + shown;
  }
}

// --- scenarios and cards -------------------------------------------------------------

async function loadScenarios() {
  scenarios = await (await api("GET", "/api/scenarios")).json();
  for (const side of SIDES) {
    const sel = $("scenario-" + side);
    const keep = sel.value;
    sel.querySelectorAll("option[data-s]").forEach((o) => o.remove());
    for (const s of scenarios) {
      if (s.id === "dataset") continue;
      const o = document.createElement("option");
      o.value = s.id; o.dataset.s = "1";
      o.textContent = (s.title || s.id) + (s.source === "stored" ? " (saved: " + s.id + ")" : "");
      o.title = s.description || "";
      sel.appendChild(o);
    }
    sel.value = keep;
    if (sel.value !== keep) sel.value = side === "a" ? "action-plan" : "";  // not (or no longer) here
    if (!sel.value && sel.options.length) sel.selectedIndex = 0;
  }
}

async function scenarioDetail(sid) {
  const meta = scenarios.find((s) => s.id === sid);
  const key = sid + "@" + (meta && meta.version ? meta.version : 0);
  if (!details[key]) details[key] = await (await api("GET", "/api/scenarios/" + encodeURIComponent(sid))).json();
  details[sid] = details[key];
  return details[key];
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function renderCard(side, d) {
  const box = $("card-" + side);
  const body = box.querySelector(".card-body");
  body.innerHTML = "";
  if (!d) { box.hidden = true; return; }
  box.hidden = false;
  body.appendChild(el("h3", d.title || d.id));
  body.appendChild(el("p", d.id + (d.extends ? " · extends " + d.extends : "") + (d.source === "stored" ? " · saved variant v" + d.version : ""), "meta"));
  for (const para of String(d.description || "").split("\n")) if (para.trim()) body.appendChild(el("p", para.trim()));
  const r = d.resolved;
  if (r) {
    body.appendChild(el("p", `Horizon: ${r.months} months from ${r.start}. Munitions made: ${r.munitions.join(", ")}.`, "meta"));
    body.appendChild(el("h4", "Assumptions"));
    if (r.assumptions.length) {
      const ul = el("ul");
      for (const a of r.assumptions) ul.appendChild(el("li", a));
      body.appendChild(ul);
    } else body.appendChild(el("p", "none stated beyond the dataset's"));
  }
  const sources = (d.body && d.body.sources) || {};
  const ids = Object.keys(sources);
  body.appendChild(el("h4", "Sources"));
  if (!ids.length) body.appendChild(el("p", "The dataset's sources (every figure carries one; see the downloaded tables)."));
  else {
    const ul = el("ul");
    for (const id of ids) {
      const s = sources[id];
      const li = el("li");
      li.appendChild(el("strong", id + ": "));
      if (s.assumption) li.appendChild(document.createTextNode("assumption: " + s.assumption));
      else {
        li.appendChild(document.createTextNode([s.publisher, s.title, s.date].filter(Boolean).join(", ") + " "));
        if (s.url) { const a = el("a", "link"); a.href = s.url; a.rel = "noreferrer"; a.target = "_blank"; li.appendChild(a); }
      }
      ul.appendChild(li);
    }
    body.appendChild(ul);
  }
}

async function scenarioChanged(side) {
  const sid = $("scenario-" + side).value;
  if (!sid) { renderCard(side, null); setPlaceholders(side); return; }
  try {
    const d = await scenarioDetail(sid);
    if ($("scenario-" + side).value !== sid) return;
    renderCard(side, d);
    setPlaceholders(side);
    if (side === "a") fillProducts(d);
  } catch (e) {
    status(e.message, true);
  }
}

/** The capacity chart's munition (the one a link asked for until the list has loaded). */
function capValue() {
  const sel = $("capacity-product");
  return sel.value || sel.dataset.wanted || "";
}

/** A select's options from a list, after its fixed first options; keeps (or takes the
 * linked) choice when it is still offered. */
function fillSelect(sel, values, fixed) {
  const keep = sel.value || sel.dataset.wanted || "";
  sel.querySelectorAll("option").forEach((o, i) => { if (i >= fixed) o.remove(); });
  for (const v of values) {
    const o = document.createElement("option"); o.value = v.value; o.textContent = v.text; sel.appendChild(o);
  }
  if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
  delete sel.dataset.wanted;
}

function fillProducts(d) {
  const r = d.resolved || { munitions: [], parties: [] };
  fillSelect($("capacity-product"), r.munitions.map((m) => ({ value: m, text: m })), 0);
  fillSelect($("stocks-product"), r.munitions.map((m) => ({ value: m, text: m })), 1);
  fillSelect($("party"), r.parties.map((p) => ({ value: p, text: p })), 1);
}

/** A view select's value (the one a link asked for until the list has loaded). */
function viewValue(id) {
  const sel = $(id);
  return sel.value || sel.dataset.wanted || "";
}

// --- URL state -------------------------------------------------------------------------

function stateToUrl() {
  const q = new URLSearchParams();
  q.set("a", $("scenario-a").value);
  if ($("scenario-b").value) q.set("b", $("scenario-b").value);
  if ($("view").value !== "side") q.set("view", $("view").value);
  if (viewValue("party")) q.set("party", viewValue("party"));
  if (viewValue("stocks-product")) q.set("sp", viewValue("stocks-product"));
  if (capValue()) q.set("cap", capValue());
  for (const side of SIDES) {
    for (const k of KNOBS) {
      const v = $(knobId(side, k.name)).value.trim();
      if (v !== "") q.set("k" + side + "." + k.name, v);
    }
  }
  history.replaceState(null, "", location.pathname + "?" + q.toString());
}

function urlToState() {
  const q = new URLSearchParams(location.search);
  const pick = (sel, v) => { if (v && [...sel.options].some((o) => o.value === v)) sel.value = v; };
  pick($("scenario-a"), q.get("a"));
  pick($("scenario-b"), q.get("b"));
  pick($("view"), q.get("view"));
  if (q.get("cap")) $("capacity-product").dataset.wanted = q.get("cap");
  if (q.get("party")) $("party").dataset.wanted = q.get("party");
  if (q.get("sp")) $("stocks-product").dataset.wanted = q.get("sp");
  for (const side of SIDES) {
    for (const k of KNOBS) {
      const v = q.get("k" + side + "." + k.name);
      if (v !== null) $(knobId(side, k.name)).value = v;
    }
  }
  if (SIDES.some((s) => KNOBS.some((k) => q.get("kb." + k.name) !== null))) $("knobs-b-box").open = true;
}

// --- results ---------------------------------------------------------------------------

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function requestKey() {
  // the server draws the first munition when none is named: the same chart as naming it
  const first = $("capacity-product").options[0];
  const cap = capValue() === (first ? first.value : "") ? "" : capValue();
  return JSON.stringify([$("scenario-a").value, readKnobs("a").knobs, $("scenario-b").value,
    readKnobs("b").knobs, cap, viewValue("party"), viewValue("stocks-product")]);
}

function changed() {
  stateToUrl();
  const stale = shownKey !== null && requestKey() !== shownKey;
  $("stale").hidden = !stale;
  $("results").classList.toggle("stale", stale);
  if (mcKey !== null) $("mc-stale").hidden = JSON.stringify([$("scenario-a").value, readKnobs("a").knobs]) === mcKey;
}

const AXIS_TITLES = {
  stocks: { y: "stock (units)" },
  time_to_target: { x: "months from the start" },
  capacity: { y: "units / month" },
};

let measureCtx = null;
/** Width in pixels of the widest text, in the charts' font (12 px). */
function textWidth(texts) {
  if (!measureCtx) {
    measureCtx = document.createElement("canvas").getContext("2d");
    measureCtx.font = "12px system-ui, sans-serif";
  }
  let w = 0;
  for (const t of texts) w = Math.max(w, measureCtx.measureText(String(t)).width);
  return w;
}

/** Margins wide enough for the category labels and the legend below, so that Plotly's
 * automargin finds nothing to grow and draws once (growing a margin redraws the whole
 * figure: a second draw was a third of the first charts' drawing time). Axes keep
 * automargin, so a label wider than measured still fits. */
function margins(fig, layout) {
  let left = 80;
  for (const key of Object.keys(layout)) {
    const m = /^yaxis(\d*)$/.exec(key);
    if (!m || layout[key].tickformat) continue;
    const names = new Set();
    for (const t of fig.data) {
      if ((t.yaxis || "y") !== "y" + m[1] || !t.y || typeof t.y[0] !== "string") continue;
      for (const v of t.y) names.add(v);
    }
    if (names.size) left = Math.max(left, Math.ceil(textWidth(names)) + 24);
  }
  const legendBelow = layout.legend && layout.legend.orientation === "h" && layout.legend.y < 0;
  return Object.assign({ l: left, r: 30, t: 60, b: legendBelow ? 110 : 80 }, fig.layout.margin);
}

/** Axis titles with units, and bar labels that fit, on a figure from the API. */
function dress(name, fig, months) {
  const layout = Object.assign({}, fig.layout, { autosize: true });
  const titles = AXIS_TITLES[name] || {};
  for (const key of Object.keys(layout)) {
    const m = /^([xy])axis(\d*)$/.exec(key);
    if (!m || !titles[m[1]]) continue;
    if (name === "capacity" && m[1] === "y" && m[2] === "2") continue;  // the binding heat map
    const ax = Object.assign({}, layout[key]);
    if (!ax.title || !ax.title.text) ax.title = { text: titles[m[1]] };
    layout[key] = ax;
  }
  if (name === "time_to_target") {
    layout.xaxis = Object.assign({}, layout.xaxis, { range: [0, (months || 84) * 1.45] });
    layout.yaxis = Object.assign({}, layout.yaxis, { automargin: true });
    layout.uniformtext = { minsize: 11, mode: "show" };
    for (const t of fig.data) {
      if (t.type === "bar") { t.textposition = "outside"; t.cliponaxis = false; t.textfont = { size: 12 }; }
    }
  }
  layout.margin = margins(fig, layout);
  return layout;
}

function plot(name, div, fig, months) {
  if (!fig) { Plotly.purge(div); div.hidden = true; return; }
  div.hidden = false;
  Plotly.react(div, fig.data, dress(name, fig, months), { responsive: true, displaylogo: false });
}

function fmt(n) { return n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en-US"); }

function fillTable(tbody, rows) {
  tbody.innerHTML = "";
  for (const cells of rows) {
    const tr = document.createElement("tr");
    for (const c of cells) tr.appendChild(el("td", String(c)));
    tbody.appendChild(tr);
  }
}

function fillTargets(summaries) {
  const rows = [];
  for (const s of summaries) {
    for (const t of s.targets) {
      rows.push([s.label, t.target, t.by, fmt(t.stock_at_by), fmt(t.required), t.met_by_date ? "yes" : "no", t.first_met || "never"]);
    }
  }
  fillTable($("targets").tBodies[0], rows);
}

/** Usable against nominal stock and the systems that went short, per party with fleets. */
function fillWeapons(summaries) {
  const rows = [];
  for (const s of summaries) {
    for (const w of s.weapon_systems || []) {
      rows.push([s.label + (s.interoperability ? " (" + s.interoperability + ")" : ""),
        w.party + " " + w.product, fmt(w.stock_end), fmt(w.usable_end), fmt(w.unusable_max),
        (100 * w.share_unmet).toFixed(0) + "%", w.short_systems || "none",
        fmt(w.effective_capacity_start_per_month) + " / " + fmt(w.capacity_start_per_month),
        fmt(w.effective_capacity_end_per_month) + " / " + fmt(w.capacity_end_per_month)]);
    }
  }
  $("weapons").hidden = !rows.length;
  fillTable($("weapons-table").tBodies[0], rows);
}

function monthsBetween(a, b) {
  return (Number(b.slice(0, 4)) - Number(a.slice(0, 4))) * 12 + Number(b.slice(5, 7)) - Number(a.slice(5, 7));
}

function fillDiff(a, b, show) {
  $("diff").hidden = !show;
  if (!show) { Plotly.purge($("chart-diff")); return; }
  const rows = [];
  const names = [], values = [], texts = [];
  for (const ta of a.targets) {
    const tb = b.targets.find((t) => t.target === ta.target);
    if (!tb) continue;
    const d = tb.stock_at_by - ta.stock_at_by;
    let earlier = "–";
    if (ta.first_met && tb.first_met) earlier = String(monthsBetween(tb.first_met, ta.first_met));
    else if (tb.first_met) earlier = "B only";
    else if (ta.first_met) earlier = "A only";
    rows.push([ta.target, ta.by, fmt(ta.stock_at_by), fmt(tb.stock_at_by), (d > 0 ? "+" : "") + fmt(d),
      ta.first_met || "never", tb.first_met || "never", earlier]);
    names.push(ta.target); values.push(d); texts.push((d > 0 ? "+" : "") + fmt(d));
  }
  fillTable($("diff-table").tBodies[0], rows);
  Plotly.react($("chart-diff"), [{ type: "bar", orientation: "h", y: names, x: values, text: texts,
    textposition: "outside", cliponaxis: false, marker: { color: values.map((v) => (v >= 0 ? "#54a24b" : "#e45756")) },
    hovertemplate: "%{y}: %{text}<extra>B − A</extra>" }],
  { title: { text: `Stock at each target's date: ${b.label} − ${a.label}` }, template: "plotly_white",
    xaxis: { title: { text: "B − A (units)" }, tickformat: "~s", zeroline: true }, yaxis: { autorange: "reversed", automargin: true },
    height: 140 + 26 * names.length, margin: { l: 10, r: 60, t: 50, b: 50 }, font: { family: "system-ui, sans-serif", size: 12 } },
  { responsive: true, displaylogo: false });
}

function fillCost(summaries) {
  const bn = (x) => (x / 1e9).toFixed(2);
  const rows = summaries.map((s) => [s.label, bn(s.cost.payments_usd), bn(s.cost.capex_usd), bn(s.cost.payments_usd + s.cost.capex_usd)]);
  if (summaries.length === 2) {
    const [a, b] = summaries.map((s) => s.cost);
    const sign = (x) => (x > 0 ? "+" : "") + bn(x);
    rows.push(["B − A", sign(b.payments_usd - a.payments_usd), sign(b.capex_usd - a.capex_usd),
      sign(b.payments_usd + b.capex_usd - a.payments_usd - a.capex_usd)]);
  }
  fillTable($("cost").tBodies[0], rows);
}

/** A text table of a drawn chart: time series at each January, categories as they are. */
function chartTable(div, box) {
  box.innerHTML = "";
  const traces = (div._fullData || []).filter((t) => t.type !== "heatmap" && t.hoverinfo !== "skip");
  if (!traces.length) return;
  const notes = (div.layout && div.layout.annotations) || [];
  const panel = (t) => {
    const n = t.yaxis && t.yaxis !== "y" ? Number(t.yaxis.slice(1)) : 1;
    return notes.length > 1 && notes[n - 1] ? notes[n - 1].text + " · " : "";
  };
  const series = [], columns = [];
  const add = (col) => { if (!columns.includes(col)) columns.push(col); };
  for (const t of traces) {
    const x = Array.from(t.x || []), y = Array.from(t.y || []);
    const text = Array.isArray(t.text) || ArrayBuffer.isView(t.text) ? Array.from(t.text) : null;
    if (t.orientation === "h" || (y.length && typeof y[0] === "string" && !/^\d{4}-\d{2}/.test(y[0]))) {
      const col = t.type === "bar" ? "value" : t.name;
      add(col);
      for (let i = 0; i < y.length; i++) {
        const name = y[i] + (t.type === "bar" ? " · " + t.name : "");
        let row = series.find((r) => r.name === name);
        if (!row) { row = { name, cells: {} }; series.push(row); }
        row.cells[col] = text && text[i] ? text[i] : fmt(x[i]);
      }
      continue;
    }
    const cells = {};
    for (let i = 0; i < x.length; i++) {
      const xs = String(x[i]);
      if (!/^\d{4}-01/.test(xs)) continue;
      cells[xs.slice(0, 4)] = fmt(y[i]);
      add(xs.slice(0, 4));
    }
    if (Object.keys(cells).length) series.push({ name: panel(t) + t.name, cells });
  }
  columns.sort();
  const table = el("table");
  const head = el("tr");
  head.appendChild(el("th", "series"));
  for (const c of columns) head.appendChild(el("th", c));
  table.appendChild(el("thead")).appendChild(head);
  const tbody = table.appendChild(el("tbody"));
  for (const r of series) {
    const tr = el("tr");
    tr.appendChild(el("th", r.name));
    for (const c of columns) tr.appendChild(el("td", r.cells[c] !== undefined ? r.cells[c] : ""));
    tbody.appendChild(tr);
  }
  box.appendChild(table);
}

function clearResults() {
  fillTable($("targets").tBodies[0], []);
  fillTable($("cost").tBodies[0], []);
  fillWeapons([]);
  $("diff").hidden = true;
  $("record").hidden = true;
  if (window.Plotly) for (const id of ["chart-stocks", "chart-time", "chart-capacity", "chart-diff", "chart-record"]) Plotly.purge($(id));
  for (const id of ["table-stocks", "table-time", "table-capacity"]) $(id).innerHTML = "";
  shownKey = null;
  shownSummaries = null;
  $("stale").hidden = true;
  $("results").classList.remove("stale");
}

// --- model against the public record -------------------------------------------------

/** Scenario A's run against data/record.csv, drawn when some public figure falls in its months. */
async function showRecord(a, seq) {
  let rec;
  try {
    rec = await (await api("POST", "/api/record", a)).json();
  } catch (e) {
    if (seq === runSeq) $("record-summary").textContent = "record comparison failed: " + e.message;
    return;
  }
  if (seq !== runSeq) return;
  const rows = rec.rows.filter((r) => r.sample !== "outside run");
  $("record").hidden = !rows.length;
  document.body.dataset.record = String(rows.length);
  if (!rows.length) { Plotly.purge($("chart-record")); return; }
  const pct1 = (x) => {
    if (x === null || x === undefined) return "–";
    const v = Math.round(x) || 0;  // no "-0%"
    return (v > 0 ? "+" : "") + v + "%";
  };
  const parts = [];
  for (const [which, e] of Object.entries(rec.errors)) {
    if (e.rows) parts.push(`${which}: ${e.rows} figures, mean |model − record| ${e.mean_abs_pct.toFixed(0)}%, worst ${e.worst_abs_pct.toFixed(0)}%`);
  }
  $("record-summary").textContent = `${rec.scenario} against public figures (in-sample up to ${rec.until}: ` +
    "a calibration may use them; later figures are checks). " + parts.join("; ") + ".";
  const unit = (r) => r.counted + (r.unit === "per_month" ? "/month" : "/year");
  fillTable($("record-table").tBodies[0], rows.map((r) => [r.date, r.item + (r.measured ? " (model: " + r.measured + ")" : ""),
    unit(r), fmt(r.record), fmt(r.model), pct1(r.difference_pct), r.sample,
    r.in_dataset ? "yes (calibration, not evidence)" : "no", r.source]));
  const label = (r) => `${r.date} ${r.item} (${r.counted})`;
  const traces = ["in-sample", "out-of-sample"].map((which, i) => {
    const part = rows.filter((r) => r.sample === which);
    return { type: "bar", orientation: "h", name: which + (i ? " (check)" : " (up to " + rec.until + ")"),
      y: part.map(label), x: part.map((r) => r.difference_pct), text: part.map((r) => pct1(r.difference_pct)),
      textposition: "outside", cliponaxis: false, marker: { color: i ? "#f58518" : "#4c78a8" },
      customdata: part.map((r) => [fmt(r.record), fmt(r.model), unit(r)]),
      hovertemplate: "%{y}<br>record %{customdata[0]}, model %{customdata[1]} %{customdata[2]}<extra>%{fullData.name}</extra>" };
  });
  Plotly.react($("chart-record"), traces, { title: { text: "Model against the public record: (model − record) / record" },
    template: "plotly_white", barmode: "overlay", xaxis: { title: { text: "model − record, % of the record" }, zeroline: true, ticksuffix: "%" },
    yaxis: { autorange: "reversed", automargin: true, categoryorder: "array", categoryarray: rows.map(label) },
    height: 160 + 24 * rows.length, margin: { l: 10, r: 50, t: 50, b: 50 }, legend: { orientation: "h", y: -0.12 },
    font: { family: "system-ui, sans-serif", size: 12 } }, { responsive: true, displaylogo: false });
}

/** Put a 422's problems at their fields; true when some field took one. */
function problemsToFields(problems) {
  let placed = false;
  for (const p of problems) {
    const parts = String(p.path || "").split(".");
    const knob = KNOBS.find((k) => parts.includes(k.name));
    if (!knob) continue;
    const side = parts.includes("b") ? "b" : "a";
    const input = $(knobId(side, knob.name));
    setFieldError(input, p.message);
    if (!placed) input.focus();
    placed = true;
  }
  return placed;
}

function setBusy(busy) {
  const b = $("run");
  b.setAttribute("aria-busy", busy ? "true" : "false");
  b.classList.toggle("busy", busy);
  b.textContent = busy ? "Running… (Run again restarts)" : "Run";
  document.body.dataset.busy = busy ? "1" : "0";
}

async function run() {
  const A = readKnobs("a"), B = readKnobs("b");
  const bad = [...A.errors, ...($("scenario-b").value ? B.errors : [])];
  if (bad.length) {
    status("fix the highlighted field" + (bad.length > 1 ? "s" : "") + " first", true);
    bad[0].focus();
    return;
  }
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  const seq = ++runSeq;
  const key = requestKey();
  setBusy(true);
  status("running…");
  const a = { scenario: $("scenario-a").value, knobs: A.knobs };
  const bId = $("scenario-b").value;
  const cap = capValue();
  const view = { capacity: cap, party: viewValue("party"), product: viewValue("stocks-product") };
  const q = "?charts=true" + Object.entries(view).filter(([, v]) => v)
    .map(([k, v]) => "&" + k + "=" + encodeURIComponent(v)).join("");
  try {
    let data;
    let summaries;
    if (bId) {
      data = await (await api("POST", "/api/compare" + q, { a, b: { scenario: bId, knobs: B.knobs } }, controller.signal)).json();
      summaries = [data.a, data.b];
      summaries[0].label = "A: " + data.a.scenario;
      summaries[1].label = "B: " + data.b.scenario;
    } else {
      data = await (await api("POST", "/api/simulate" + q, a, controller.signal)).json();
      summaries = [data.summary];
      summaries[0].label = data.summary.scenario;
    }
    const t = { answerMs: performance.now() };
    await plotlyReady();
    if (seq !== runSeq) return;  // superseded while the body was read or plotly loaded
    t.plotlyMs = performance.now();
    fillTargets(summaries);
    fillCost(summaries);
    fillWeapons(summaries);
    fillDiff(summaries[0], summaries[1], !!bId && $("view").value === "diff");
    const months = Math.max(...summaries.map((s) => s.months));
    plot("stocks", $("chart-stocks"), data.charts.stocks, months);
    t.stocksMs = performance.now();
    plot("time_to_target", $("chart-time"), data.charts.time_to_target, months);
    t.timeMs = performance.now();
    plot("capacity", $("chart-capacity"), data.charts.capacity, months);
    t.capacityMs = performance.now();
    chartTable($("chart-stocks"), $("table-stocks"));
    chartTable($("chart-time"), $("table-time"));
    chartTable($("chart-capacity"), $("table-capacity"));
    t.tablesMs = performance.now();
    shownKey = key;
    shownSummaries = summaries;
    runCount += 1;
    document.body.dataset.runs = String(runCount);
    document.body.dataset.shown = JSON.stringify({ a: data.a ? data.a.scenario : data.summary.scenario, b: data.b ? data.b.scenario : null });
    if (!window.materielTimings) window.materielTimings = Object.assign(t, { firstChartsMs: performance.now() });
    status("done (run " + runCount + ")");
    changed();
    await showRecord(a, seq);
  } catch (e) {
    if (seq !== runSeq || e.name === "AbortError") return;
    clearResults();
    const atField = e.problems && problemsToFields(e.problems);
    status((atField ? "fix the highlighted field: " : "") + e.message, true);
  } finally {
    if (seq === runSeq) { setBusy(false); inFlight = null; }
  }
}

// --- Monte Carlo jobs ----------------------------------------------------------------

let mcJob = null;          // id of the job being watched
let mcSeq = 0;             // the latest Monte Carlo request; older polls are dropped
let mcKey = null;          // the scenario + knobs the shown Monte Carlo answers

function intField(id, min, max) {
  const input = $(id);
  const v = input.value.trim();
  let error = "";
  if (!/^[+-]?\d+$/.test(v)) error = `"${v}" is not a whole number`;
  else if (Number(v) < min || Number(v) > max) error = `${v} is out of range: from ${min} to ${max}`;
  setFieldError(input, error);
  return error ? null : Number(v);
}

function mcState(running) {
  $("mc-run").disabled = false;
  $("mc-cancel").disabled = !running;
  $("mc-progress").hidden = !running;
  document.body.dataset.mc = running ? "running" : "idle";
}

async function runMonteCarlo() {
  const samples = intField("mc-samples", 1, 2000), seed = intField("mc-seed", 0, 2147483647);
  const A = readKnobs("a");
  if (samples === null || seed === null || A.errors.length) {
    $("mc-status").textContent = "fix the highlighted field first";
    return;
  }
  if (mcJob) cancelMonteCarlo(true);
  const seq = ++mcSeq;
  const key = JSON.stringify([$("scenario-a").value, A.knobs]);
  mcState(true);
  $("mc-progress").value = 0;
  $("mc-status").textContent = "starting…";
  try {
    const job = await (await api("POST", "/api/jobs/montecarlo",
      { scenario: $("scenario-a").value, knobs: A.knobs, samples, seed })).json();
    if (seq !== mcSeq) return;
    mcJob = job.id;
    for (;;) {
      await new Promise((r) => setTimeout(r, 400));
      if (seq !== mcSeq) return;
      const j = await (await api("GET", "/api/jobs/" + encodeURIComponent(job.id))).json();
      if (seq !== mcSeq) return;
      $("mc-progress").max = Math.max(j.total, 1);
      $("mc-progress").value = j.done;
      $("mc-status").textContent = `${j.status}: ${j.done} of ${j.total} samples`;
      if (j.status === "done") { showMonteCarlo(j.result, key); break; }
      if (j.status === "failed" || j.status === "cancelled") {
        $("mc-status").textContent = j.status + (j.error && j.error !== j.status ? ": " + j.error : "");
        break;
      }
    }
  } catch (e) {
    if (seq !== mcSeq) return;
    const atField = e.problems && problemsToFields(e.problems);
    $("mc-status").textContent = (atField ? "fix the highlighted field: " : "") + e.message;
  } finally {
    if (seq === mcSeq) { mcJob = null; mcState(false); }
  }
}

async function cancelMonteCarlo(quiet) {
  const jid = mcJob;
  if (!jid) return;
  if (!quiet) $("mc-status").textContent = "cancelling…";
  try { await api("POST", "/api/jobs/" + encodeURIComponent(jid) + "/cancel"); }
  catch (e) { if (!quiet) $("mc-status").textContent = e.message; }
}

function pct(p) { return p === null || p === undefined ? "–" : Math.round(p * 100) + "%"; }

async function showMonteCarlo(m, key) {
  await plotlyReady();
  mcKey = key;
  $("mc").hidden = false;
  $("mc-stale").hidden = true;
  $("mc-title").textContent = `${m.scenario}, ${m.samples} samples, seed ${m.seed}`;
  fillTable($("mc-table").tBodies[0], m.targets.map((t) => [t.target, t.by, fmt(t.required),
    pct(t.p_met_by_date), pct(t.p_met_by_horizon), t.median_first_met || "–",
    fmt(t.stock_at_by_p5), fmt(t.stock_at_by_p50), fmt(t.stock_at_by_p95)]));
  const c = m.cost_usd;
  $("mc-cost").textContent = `Cost over the horizon (USD bn): p5 ${(c.p5 / 1e9).toFixed(2)}, median ${(c.p50 / 1e9).toFixed(2)}, p95 ${(c.p95 / 1e9).toFixed(2)}.` +
    (m.uncertain_inputs.length ? "" : " This scenario has no uncertain inputs: every sample is the same.");
  const names = m.targets.map((t) => `${t.target} (P ${pct(t.p_met_by_date)})`);
  const share = (t, q) => (t.required > 0 ? 100 * t["stock_at_by_p" + q] / t.required : null);
  const band = (lo, hi, width, colour, name) => ({ type: "bar", orientation: "h", y: names, name,
    base: m.targets.map((t) => share(t, lo)), x: m.targets.map((t) => share(t, hi) - share(t, lo)),
    width, marker: { color: colour }, hovertemplate: "%{y}: " + name + "<extra></extra>" });
  Plotly.react($("chart-mc"), [
    band(5, 95, 0.25, "rgba(76,120,168,0.35)", "p5–p95"),
    band(25, 75, 0.5, "rgba(76,120,168,0.7)", "p25–p75"),
    { type: "scatter", mode: "markers", y: names, x: m.targets.map((t) => share(t, 50)), name: "median",
      marker: { color: "#222", symbol: "line-ns-open", size: 18 } },
  ], { title: { text: "Stock at each target's date (fan over samples)" }, template: "plotly_white", barmode: "overlay",
    xaxis: { title: { text: "% of the required quantity (100 = target met)" }, rangemode: "tozero" },
    yaxis: { autorange: "reversed", automargin: true },
    shapes: [{ type: "line", x0: 100, x1: 100, yref: "paper", y0: 0, y1: 1, line: { dash: "dash", color: "#b00" } }],
    height: 140 + 34 * names.length, margin: { l: 10, r: 20, t: 50, b: 50 }, legend: { orientation: "h", y: -0.25 },
    font: { family: "system-ui, sans-serif", size: 12 } }, { responsive: true, displaylogo: false });
  mcFans = m.fans;
  const sel = $("mc-series");
  const keep = sel.value;
  sel.innerHTML = "";
  const series = [...m.fans.groups.map((g, i) => ({ value: "g" + i, text: g.label + " (target group)" })),
    ...m.fans.cells.map((c, i) => ({ value: "c" + i, text: c.label }))];
  for (const s of series) { const o = document.createElement("option"); o.value = s.value; o.textContent = s.text; sel.appendChild(o); }
  if (keep && series.some((s) => s.value === keep)) sel.value = keep;
  drawMcFan();
}

let mcFans = null;         // the shown Monte Carlo's stock fans over time

/** The Monte Carlo fan over time of the chosen target group or party and munition, with its table. */
function drawMcFan() {
  const v = $("mc-series").value;
  if (!mcFans || !v) return;
  const f = (v[0] === "g" ? mcFans.groups : mcFans.cells)[Number(v.slice(1))];
  const x = mcFans.months.map((m) => m + "-01");
  const blue = (a) => `rgba(76,120,168,${a})`;
  const edge = (y, name) => ({ type: "scatter", mode: "lines", x, y, line: { width: 0 }, hoverinfo: "skip", showlegend: false, name });
  const traces = [edge(f.p5, "p5"),
    { type: "scatter", mode: "lines", x, y: f.p95, fill: "tonexty", fillcolor: blue(0.2), line: { width: 0 }, name: "p5–p95" },
    edge(f.p25, "p25"),
    { type: "scatter", mode: "lines", x, y: f.p75, fill: "tonexty", fillcolor: blue(0.45), line: { width: 0 }, name: "p25–p75" },
    { type: "scatter", mode: "lines", x, y: f.p50, line: { color: "#1f3a5f", width: 2 }, name: "median" }];
  for (const t of f.targets || []) {
    traces.push({ type: "scatter", mode: "lines+markers", x: [x[0], t.by + "-01"], y: [t.required, t.required],
      line: { color: "#222", dash: "dash", width: 1 }, marker: { symbol: ["line-ns", "diamond"], size: [0, 9], color: "#222" },
      name: "target " + t.target, hovertemplate: t.target + ": %{y:,.0f} by " + t.by + "<extra></extra>" });
  }
  Plotly.react($("chart-mc-fan"), traces, { title: { text: "Stock over time, " + f.label + " (fan over samples)" },
    template: "plotly_white", yaxis: { title: { text: "stock (units)" }, rangemode: "tozero", tickformat: "~s" },
    height: 420, margin: { l: 60, r: 20, t: 50, b: 40 }, legend: { orientation: "h", y: -0.12 },
    font: { family: "system-ui, sans-serif", size: 12 } }, { responsive: true, displaylogo: false });
  const rows = [];
  mcFans.months.forEach((m, i) => {
    if (m.endsWith("-01")) rows.push({ month: m, p5: f.p5[i], p25: f.p25[i], median: f.p50[i], p75: f.p75[i], p95: f.p95[i] });
  });
  recordsTable($("table-mc-fan"), rows);
}

// --- planning jobs ------------------------------------------------------------------

let planSeq = 0;

function recordsTable(box, records) {
  box.innerHTML = "";
  if (!records || !records.length) { box.appendChild(el("p", "none")); return; }
  const cols = Object.keys(records[0]);
  const table = el("table");
  const head = el("tr");
  for (const c of cols) head.appendChild(el("th", c.replace(/_/g, " ")));
  table.appendChild(el("thead")).appendChild(head);
  const tbody = table.appendChild(el("tbody"));
  for (const r of records) {
    const tr = el("tr");
    for (const c of cols) {
      const v = r[c];
      tr.appendChild(el("td", typeof v === "number" ? (Number.isInteger(v) || Math.abs(v) >= 100 ? fmt(v) : v.toFixed(3))
        : v === null || v === undefined ? "–" : Array.isArray(v) ? (v.length > 4 ? v.length + " items" : v.join(", "))
          : typeof v === "object" ? JSON.stringify(v) : String(v)));
    }
    tbody.appendChild(tr);
  }
  box.appendChild(table);
}

async function runPlan() {
  const A = readKnobs("a");
  const input = $("plan-budget");
  const r = parseKnob({ min: 0, max: 100 }, input.value);
  setFieldError(input, r.value === undefined && !r.error ? "give a number, e.g. 1" : r.error);
  if (r.error || r.value === undefined || A.errors.length) { $("plan-status").textContent = "fix the highlighted field first"; return; }
  const seq = ++planSeq;
  document.body.dataset.plan = "running";
  $("plan-status").textContent = "starting…";
  try {
    const job = await (await api("POST", "/api/jobs/plan", { scenario: $("scenario-a").value, knobs: A.knobs,
      objective: $("plan-objective").value, budget_scale: r.value })).json();
    for (;;) {
      await new Promise((res) => setTimeout(res, 700));
      if (seq !== planSeq) return;
      const j = await (await api("GET", "/api/jobs/" + encodeURIComponent(job.id))).json();
      if (seq !== planSeq) return;
      $("plan-status").textContent = j.status + "…";
      if (j.status === "done") { showPlan(j.result); $("plan-status").textContent = "plan done"; break; }
      if (j.status === "failed" || j.status === "cancelled") { $("plan-status").textContent = j.status + ": " + (j.error || ""); break; }
    }
  } catch (e) {
    if (seq === planSeq) $("plan-status").textContent = e.message;
  } finally {
    if (seq === planSeq) document.body.dataset.plan = "idle";
  }
}

let planMapping = null;    // the shown plan as a scenario mapping (saved as a variant on request)

function showPlan(p) {
  $("plan").hidden = false;
  planMapping = p.scenario_mapping || null;
  $("plan-variant-id").disabled = $("plan-save").disabled = !planMapping;
  if (planMapping && !$("plan-variant-id").value) $("plan-variant-id").value = planMapping.id;
  $("plan-save-note").textContent = "";
  $("plan-title").textContent = `${p.scenario}, objective ${p.objective}, budget × ${p.budget_scale}`;
  const bn = (x) => (x === null || x === undefined ? "–" : (x / 1e9).toFixed(2));
  $("plan-summary").textContent = (p.feasible ? "Feasible. " : "Not feasible: some targets cannot be met. ") +
    `${p.contracts} contracts; cost USD ${bn(p.cost_usd)} bn (contracts ${bn(p.contract_spend_usd)} bn, industry capex ${bn(p.capex_usd)} bn).`;
  const ul = $("plan-diagnosis");
  ul.innerHTML = "";
  for (const line of p.diagnosis || []) ul.appendChild(el("li", line));
  recordsTable($("plan-targets"), p.targets);
  recordsTable($("plan-investments"), p.investments);
  const delivered = (p.by_year && p.by_year.delivered) || {};
  const years = [...new Set(Object.values(delivered).flatMap((row) => Object.keys(row)))].sort();
  recordsTable($("plan-contracts"), Object.entries(delivered).map(([line, row]) =>
    Object.assign({ line }, Object.fromEntries(years.map((y) => [y, row[y] || 0])))));
}

// --- save and download -------------------------------------------------------------

async function save() {
  const id = $("variant-id").value.trim();
  const note = $("save-note");
  if (!/^[A-Za-z0-9][A-Za-z0-9_.\-]*$/.test(id)) { status("give the variant an id: letters, digits, '.', '_' or '-'", true); $("variant-id").focus(); return; }
  const A = readKnobs("a");
  if (A.errors.length) { status("fix the highlighted field first", true); A.errors[0].focus(); return; }
  const k = A.knobs;
  const baseId = $("scenario-a").value;
  const base = await scenarioDetail(baseId);
  // a stored variant cannot be extended (extends names an embedded scenario): copy its body
  const start = base.source === "stored" ? JSON.parse(JSON.stringify(base.body)) : { extends: baseId };
  const policy = Object.assign({}, start.policy || {});
  for (const name of ["contracting_delay_months", "extra_contracting_delay_months", "consumption_scale", "budget"]) {
    if (k[name] !== undefined) policy[name] = k[name];
  }
  const body = Object.assign(start, { title: "Variant of " + (base.title || baseId), policy });
  if (k.spending_target_pct_gdp !== undefined) {
    body.spending_paths = { "dashboard-path": { parties: ["*"], target_pct_gdp: k.spending_target_pct_gdp,
      from_year: Number((base.resolved && base.resolved.start || "2025").slice(0, 4)), by_year: k.spending_by_year || 2035 } };
  }
  note.textContent = k.multi_year_share
    ? "Note: the multi-year share (" + k.multi_year_share + ") is not saved in a variant; only policy knobs and the spending target are. Set it again after choosing the variant."
    : "";
  try {
    const stored = scenarios.find((s) => s.id === id && s.source === "stored");
    if (stored) await api("PUT", "/api/scenarios/" + encodeURIComponent(id), { body, version: stored.version });
    else await api("POST", "/api/scenarios", { id, body });
    await loadScenarios();
    status("saved " + id + (k.multi_year_share ? " (see the note below)" : ""));
  } catch (e) {
    status(e.message, true);
  }
}

/** Store the shown plan's scenario (its contracts and investments) as a variant. */
async function savePlan() {
  const input = $("plan-variant-id");
  const id = input.value.trim();
  const note = $("plan-save-note");
  if (!planMapping) return;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.\-]*$/.test(id) || id.length > 80) {
    setFieldError(input, "letters, digits, '.', '_' or '-' (at most 80)");
    note.textContent = "fix the variant id first";
    return;
  }
  setFieldError(input, "");
  const body = Object.assign({}, planMapping);
  delete body.id;
  note.textContent = "saving…";
  try {
    const stored = scenarios.find((s) => s.id === id && s.source === "stored");
    if (stored) await api("PUT", "/api/scenarios/" + encodeURIComponent(id), { body, version: stored.version });
    else await api("POST", "/api/scenarios", { id, body });
    await loadScenarios();
    note.textContent = "saved the plan as " + id + ": pick it as scenario A or B to run it.";
    document.body.dataset.planSaved = id;
  } catch (e) {
    note.textContent = e.message;
  }
}

async function download() {
  const A = readKnobs("a");
  if (A.errors.length) { status("fix the highlighted field first", true); A.errors[0].focus(); return; }
  status("preparing download…");
  try {
    const resp = await api("POST", "/api/download?format=csv", { scenario: $("scenario-a").value, knobs: A.knobs });
    const blob = await resp.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = $("scenario-a").value + "-csv.zip";
    document.body.appendChild(a); a.click(); a.remove();
    status("downloaded");
  } catch (e) {
    status(e.message, true);
  }
}

// --- wiring ------------------------------------------------------------------------------

for (const side of SIDES) buildKnobs(side);
$("run").addEventListener("click", run);
$("save").addEventListener("click", save);
$("download").addEventListener("click", download);
$("mc-run").addEventListener("click", runMonteCarlo);
$("plan-run").addEventListener("click", runPlan);
$("mc-cancel").addEventListener("click", () => cancelMonteCarlo(false));
$("mc-series").addEventListener("change", drawMcFan);
$("plan-save").addEventListener("click", savePlan);
for (const id of ["party", "stocks-product"]) $(id).addEventListener("change", () => { changed(); });
for (const side of SIDES) $("scenario-" + side).addEventListener("change", () => { scenarioChanged(side); changed(); });
$("view").addEventListener("change", () => {
  changed();
  if (shownSummaries) fillDiff(shownSummaries[0], shownSummaries[1], shownSummaries.length === 2 && $("view").value === "diff");
});
$("capacity-product").addEventListener("change", () => { changed(); });
// The API token: from ?token= (then removed from the address bar) or the field, kept for
// this tab only (sessionStorage). With --token, every /api read and run needs it.
const fromUrl = new URLSearchParams(location.search).get("token");
if (fromUrl) {
  sessionStorage.setItem("materiel-token", fromUrl);
  const url = new URL(location.href);
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}
$("token").value = sessionStorage.getItem("materiel-token") || "";
$("token").addEventListener("change", () => {
  sessionStorage.setItem("materiel-token", $("token").value.trim());
  start().catch((e) => status(e.message, true));
});

/** The first view: the run, the scenario cards and the catalogue are asked for at once
 * (the URL or the default names the scenarios), then plotly.js runs while they come. */
async function start() {
  const q = new URLSearchParams(location.search);
  const wanted = { a: q.get("a") || $("scenario-a").value || "action-plan", b: q.get("b") || $("scenario-b").value };
  for (const side of SIDES) {
    const sel = $("scenario-" + side);
    const sid = wanted[side];
    if (sid && ![...sel.options].some((o) => o.value === sid)) {
      const o = document.createElement("option");  // until the catalogue comes (then replaced)
      o.value = sid; o.textContent = sid; o.dataset.s = "1";
      sel.appendChild(o);
    }
    sel.value = sid || "";
  }
  urlToState();
  for (const side of SIDES) checkFieldsOf(side);
  stateToUrl();
  const listed = loadScenarios();
  const first = [...SIDES.map(scenarioChanged), run()];
  plotlyReady().catch((e) => status(e.message, true));
  await listed;
  const missing = SIDES.filter((side) => wanted[side] && $("scenario-" + side).value !== wanted[side]);
  if (missing.length) {  // a link to a scenario this server does not have: say so, run what is shown
    for (const side of missing) scenarioChanged(side);
    stateToUrl();
    await run();
    status("no scenario " + missing.map((side) => JSON.stringify(wanted[side])).join(", ") + " here; showing " + $("scenario-a").value, true);
    return;
  }
  await Promise.all(first);
}

function checkFieldsOf(side) { for (const k of KNOBS) checkField($(knobId(side, k.name))); }

start().catch((e) => status(e.message, true));
