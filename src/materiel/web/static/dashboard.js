"use strict";
// materiel dashboard: vanilla JS against the JSON API; plotly.js is served by the app.
const $ = (id) => document.getElementById(id);
const KNOBS = ["contracting_delay_months", "extra_contracting_delay_months", "multi_year_share",
  "consumption_scale", "spending_target_pct_gdp", "spending_by_year"];
const INTS = new Set(["contracting_delay_months", "extra_contracting_delay_months", "spending_by_year"]);
let runCount = 0;

function headers() {
  const h = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function knobs() {
  const out = {};
  for (const k of KNOBS) {
    const v = $(k).value.trim();
    if (v === "") continue;
    out[k] = INTS.has(k) ? parseInt(v, 10) : parseFloat(v);
  }
  if (out.spending_target_pct_gdp === undefined) delete out.spending_by_year;
  const budget = $("budget").value;
  if (budget) out.budget = budget;
  return out;
}

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function api(method, url, body) {
  const resp = await fetch(url, { method, headers: headers(), body: body ? JSON.stringify(body) : undefined });
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try {
      const data = await resp.json();
      if (data.problems) msg += "\n" + data.problems.map((p) => `${p.file}${p.line ? ":" + p.line : ""} ${p.path}: ${p.message}`).join("\n");
      else if (data.detail) msg += ": " + JSON.stringify(data.detail);
    } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return resp;
}

async function loadScenarios() {
  const list = await (await api("GET", "/api/scenarios")).json();
  for (const id of ["scenario-a", "scenario-b"]) {
    const sel = $(id);
    const keep = sel.value;
    sel.querySelectorAll("option[data-s]").forEach((o) => o.remove());
    for (const s of list) {
      const o = document.createElement("option");
      o.value = s.id; o.dataset.s = "1";
      o.textContent = s.id + (s.source === "stored" ? " (saved)" : "");
      sel.appendChild(o);
    }
    if (keep) sel.value = keep;
  }
  if (!$("scenario-a").value) $("scenario-a").value = "action-plan";
}

function plot(div, fig) {
  if (!fig) { Plotly.purge(div); return; }
  Plotly.react(div, fig.data, Object.assign({}, fig.layout, { autosize: true }), { responsive: true, displaylogo: false });
}

function fill(summaries) {
  const body = $("targets").tBodies[0];
  body.innerHTML = "";
  for (const s of summaries) {
    for (const t of s.targets) {
      const tr = document.createElement("tr");
      const cells = [s.scenario, t.target, t.by, Math.round(t.stock_at_by).toLocaleString(),
        Math.round(t.required).toLocaleString(), t.met_by_date ? "yes" : "no", t.first_met || "never"];
      for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
      body.appendChild(tr);
    }
  }
}

async function run() {
  status("running…");
  const a = { scenario: $("scenario-a").value, knobs: knobs() };
  const b = $("scenario-b").value;
  try {
    let charts;
    if (b) {
      const data = await (await api("POST", "/api/compare?charts=true", { a, b: { scenario: b } })).json();
      fill([data.a, data.b]);
      charts = data.charts;
    } else {
      const data = await (await api("POST", "/api/simulate?charts=true", a)).json();
      fill([data.summary]);
      charts = data.charts;
    }
    plot($("chart-stocks"), charts.stocks);
    plot($("chart-time"), charts.time_to_target);
    plot($("chart-capacity"), charts.capacity);
    runCount += 1;
    document.body.dataset.runs = String(runCount);
    status("done (run " + runCount + ")");
  } catch (e) {
    status(e.message, true);
  }
}

async function save() {
  const id = $("variant-id").value.trim();
  if (!id) { status("give the variant an id", true); return; }
  const k = knobs();
  const policy = {};
  for (const name of ["contracting_delay_months", "extra_contracting_delay_months", "consumption_scale", "budget"]) {
    if (k[name] !== undefined) policy[name] = k[name];
  }
  const body = { extends: $("scenario-a").value, title: "Variant of " + $("scenario-a").value, policy };
  if (k.spending_target_pct_gdp !== undefined) {
    body.spending_paths = { "dashboard-path": { parties: ["*"], target_pct_gdp: k.spending_target_pct_gdp, from_year: 2025, by_year: k.spending_by_year || 2035 } };
  }
  if (k.multi_year_share) {
    status("note: the multi-year share knob is not saved in a variant (only policy and spending)");
  }
  try {
    const stored = (await (await api("GET", "/api/scenarios")).json()).find((s) => s.id === id && s.source === "stored");
    if (stored) await api("PUT", "/api/scenarios/" + encodeURIComponent(id), { body, version: stored.version });
    else await api("POST", "/api/scenarios", { id, body });
    await loadScenarios();
    status("saved " + id);
  } catch (e) {
    status(e.message, true);
  }
}

async function download() {
  status("preparing download…");
  try {
    const resp = await api("POST", "/api/download?format=csv", { scenario: $("scenario-a").value, knobs: knobs() });
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

$("run").addEventListener("click", run);
$("save").addEventListener("click", save);
$("download").addEventListener("click", download);
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
  loadScenarios().then(run).catch((e) => status(e.message, true));
});
loadScenarios().then(run).catch((e) => status(e.message, true));
