// The runs grid: every run the filter matches, a page at a time from the server, with only the rows and
// columns in view in the DOM (a fixed row height, and the head's cell offsets, make the window arithmetic). Columns and selection live in the
// URL; sorting is a navigation to the same page with another `order`, done by the server.
const ROW = 28, OVERSCAN = 10, COL_OVERSCAN = 2, PAGE = 200;
const config = JSON.parse(document.getElementById("grid-config").textContent);
const grid = document.getElementById("grid");
const head = grid.querySelector(".grid-head");
const body = grid.querySelector(".grid-body");
const status = document.getElementById("grid-status");
const errorBox = document.getElementById("filter-error");
const compare = document.getElementById("compare");
const chooser = document.getElementById("columns");
const url = new URL(window.location.href);

let rows = [], next = null, loading = false, prefetch = false, done = false, focus = -1;
let offsets = []; // [left, width] of each shown column, read off the head
const selected = new Set((url.searchParams.get("sel") || "").split(",").filter(Boolean));
const keys = { params: new Set(), metrics: new Set(), tags: new Set() };
let chosen = url.searchParams.has("cols") ? url.searchParams.get("cols").split(",").filter(Boolean) : null;

const fixed = [
  { id: "sel", label: "", cls: "sel", value: () => "" },
  { id: "name", label: "Run", cls: "name", sort: "attributes.run_name", value: (r) => r.name || r.id },
  { id: "status", label: "Status", sort: "attributes.status", value: (r) => r.status },
  { id: "user", label: "User", sort: "attributes.user_id", value: (r) => r.user },
  { id: "start", label: "Started", sort: "attributes.start_time", value: (r) => (r.start ? new Date(r.start).toISOString().slice(0, 19).replace("T", " ") : "") },
  { id: "duration", label: "Duration", value: (r) => (r.start && r.end ? ((r.end - r.start) / 1000).toFixed(1) + " s" : "") },
];
const extra = [
  { id: "datasets", label: "Datasets", value: (r) => r.datasets.join(", ") },
  { id: "versions", label: "Registered", value: (r) => r.versions.join(", ") },
];
const quote = (k) => "`" + k.replace(/`/g, "") + "`";

function columns() {
  const dynamic = [];
  for (const k of keys.params) dynamic.push({ id: "params." + k, label: k, sort: "params." + quote(k), value: (r) => r.params[k] ?? "" });
  for (const k of keys.metrics) {
    dynamic.push({ id: "metrics." + k, label: k, sort: "metrics." + quote(k), num: true, value: (r) => fmt(r.metrics[k]) });
    // Each metric's extremes over its whole history, on request (the server sends them only then).
    for (const e of ["min", "max"]) dynamic.push({ id: e + "." + k, label: `${k} (${e})`, num: true, extreme: true, value: (r) => fmt(r[e]?.[k]) });
  }
  for (const k of keys.tags) dynamic.push({ id: "tags." + k, label: k, sort: "tags." + quote(k), value: (r) => r.tags[k] ?? "" });
  const all = [...dynamic, ...extra];
  // By default the experiment's params and metrics are columns, as in MLflow; tags on request.
  const shown = chosen ? all.filter((c) => chosen.includes(c.id)) : all.filter((c) => !c.id.startsWith("tags.") && !c.extreme);
  return { all, shown: [...fixed, ...shown] };
}

function fmt(v) {
  if (v === undefined || v === null) return "";
  if (typeof v !== "number") return String(v);
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-4 && Math.abs(v) < 1e6 ? String(+v.toFixed(6)) : v.toExponential(4);
}

function sortState() {
  const m = /^(.*?)\s*(ASC|DESC)?$/i.exec(config.order.trim());
  return { key: m ? m[1] : "", asc: m && m[2] ? m[2].toUpperCase() === "ASC" : !!m && !!m[1] };
}

function renderHead() {
  const { shown } = columns();
  const s = sortState();
  head.replaceChildren(...shown.map((c) => {
    const el = document.createElement("div");
    el.className = "cell " + (c.cls || "") + (c.num ? " num" : "");
    el.setAttribute("role", "columnheader");
    el.textContent = c.label;
    el.title = c.id;
    if (c.sort) {
      if (s.key === c.sort) el.classList.add("sorted", ...(s.asc ? ["asc"] : []));
      const link = new URL(window.location.href);
      link.searchParams.set("order", c.sort + (s.key === c.sort && !s.asc ? " ASC" : " DESC"));
      const a = document.createElement("a");
      a.href = link.pathname + link.search;
      a.textContent = c.label;
      el.replaceChildren(a);
      el.setAttribute("aria-sort", s.key === c.sort ? (s.asc ? "ascending" : "descending") : "none");
    }
    return el;
  }));
  offsets = [...head.children].map((el) => [el.offsetLeft, el.offsetWidth]);
}

// The shown columns in horizontal view, and a couple beyond each side.
function columnWindow(count) {
  const left = grid.scrollLeft, right = left + grid.clientWidth;
  let a = offsets.findIndex(([l, w]) => l + w >= left);
  let b = offsets.findIndex(([l]) => l > right);
  if (a < 0) a = 0;
  if (b < 0) b = count;
  return [Math.max(0, a - COL_OVERSCAN), Math.min(count, b + COL_OVERSCAN)];
}

function render() {
  const { shown } = columns();
  body.style.height = rows.length * ROW + "px";
  const first = Math.max(0, Math.floor(grid.scrollTop / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((grid.scrollTop + grid.clientHeight) / ROW) + OVERSCAN);
  const ids = new Set(rows.map((r) => r.id));
  const [ca, cb] = columnWindow(shown.length);
  const out = [];
  for (let i = first; i < last; i++) {
    const r = rows[i];
    const el = document.createElement("div");
    el.className = "grid-row" + (r.parent && ids.has(r.parent) ? " child" : "") + (i === focus ? " focus" : "");
    el.style.top = i * ROW + "px";
    el.setAttribute("role", "row");
    el.setAttribute("aria-rowindex", String(i + 1));
    el.setAttribute("aria-selected", String(selected.has(r.id)));
    el.dataset.run = r.id;
    el.style.paddingLeft = (offsets[ca]?.[0] || 0) + "px";
    for (let j = ca; j < cb; j++) {
      const c = shown[j];
      const cell = document.createElement("div");
      cell.className = "cell " + (c.cls || "") + (c.num ? " num" : "");
      cell.setAttribute("role", "gridcell");
      cell.setAttribute("aria-colindex", String(j + 1));
      if (c.id === "sel") {
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = selected.has(r.id);
        box.setAttribute("aria-label", "Select " + (r.name || r.id));
        box.addEventListener("change", () => toggle(r.id));
        cell.append(box);
      } else if (c.id === "name") {
        const a = document.createElement("a");
        a.href = `/experiments/${config.experiment}/runs/${r.id}`;
        a.textContent = (r.parent && ids.has(r.parent) ? "↳ " : "") + c.value(r);
        cell.append(a);
      } else {
        cell.textContent = c.value(r);
        cell.title = cell.textContent;
      }
      el.append(cell);
    }
    out.push(el);
  }
  body.replaceChildren(...out);
  status.textContent = done && !rows.length
    ? "No runs match."
    : `${rows.length}${done ? "" : "+"} runs` + (selected.size ? ` · ${selected.size} selected` : "");
  if (!done && !loading && !prefetch && last >= rows.length - OVERSCAN * 2) {
    // After the frame that shows these rows: reading the next page must not hold it up.
    prefetch = true;
    requestAnimationFrame(() => setTimeout(() => {
      prefetch = false;
      if (!loading && !done) load();
    }));
  }
}

function toggle(id) {
  selected.has(id) ? selected.delete(id) : selected.add(id);
  compare.href = "/compare?runs=" + [...selected].join(",");
  compare.setAttribute("aria-disabled", String(selected.size === 0));
  const u = new URL(window.location.href);
  selected.size ? u.searchParams.set("sel", [...selected].join(",")) : u.searchParams.delete("sel");
  history.replaceState(null, "", u);
  render();
}

async function load() {
  loading = true;
  const q = new URLSearchParams({ filter: config.filter, order: config.order, view: config.view, max: String(PAGE) });
  if (next) q.set("page", next);
  if (extremesShown()) q.set("extremes", "1");
  try {
    const res = await fetch(`/ui/experiments/${config.experiment}/runs?${q}`);
    const data = await res.json();
    if (!res.ok) {
      errorBox.textContent = data.error || res.statusText;
      errorBox.hidden = false;
      done = true;
      status.textContent = "";
      return;
    }
    take(data);
  } finally {
    loading = false;
  }
  render();
}

// Adds a page of rows; the head and chooser change only when new keys came with it.
function take(data) {
  const before = keys.params.size + keys.metrics.size + keys.tags.size;
  data.params.forEach((k) => keys.params.add(k));
  data.metrics.forEach((k) => keys.metrics.add(k));
  data.tags.forEach((k) => keys.tags.add(k));
  rows = rows.concat(data.rows);
  next = data.next;
  done = !next;
  if (keys.params.size + keys.metrics.size + keys.tags.size !== before || rows.length === data.rows.length) {
    renderHead();
    if (chooser.open) renderChooser();
  }
}

const extremesShown = () => columns().shown.some((c) => c.extreme);

function renderChooser() {
  const list = document.getElementById("column-list");
  const needle = document.getElementById("column-search").value.toLowerCase();
  const { all, shown } = columns();
  const on = new Set(shown.map((c) => c.id));
  list.replaceChildren(...all.filter((c) => c.id.toLowerCase().includes(needle)).map((c) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = on.has(c.id);
    box.addEventListener("change", () => {
      const ids = columns().shown.map((x) => x.id).filter((id) => !fixed.some((f) => f.id === id));
      chosen = box.checked ? [...ids, c.id] : ids.filter((id) => id !== c.id);
      const u = new URL(window.location.href);
      u.searchParams.set("cols", chosen.join(","));
      history.replaceState(null, "", u);
      renderHead();
      if (c.extreme && box.checked && rows.length && !("min" in rows[0])) {
        // The rows in hand came without extremes: read them again with.
        rows = [];
        next = null;
        done = false;
        if (!loading) load();
      }
      render();
    });
    label.append(box, " " + c.id);
    return label;
  }));
}

grid.addEventListener("scroll", () => requestAnimationFrame(render));
grid.addEventListener("keydown", (e) => {
  if (!rows.length) return;
  const page = Math.floor(grid.clientHeight / ROW);
  const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
  if (e.key in moves) {
    focus = Math.max(0, Math.min(rows.length - 1, (focus < 0 ? -1 : focus) + moves[e.key]));
    const top = focus * ROW;
    if (top < grid.scrollTop + ROW) grid.scrollTop = top - ROW;
    else if (top > grid.scrollTop + grid.clientHeight - 2 * ROW) grid.scrollTop = top - grid.clientHeight + 2 * ROW;
    e.preventDefault();
    render();
  } else if (e.key === "Enter" && focus >= 0) {
    window.location.href = `/experiments/${config.experiment}/runs/${rows[focus].id}`;
  } else if (e.key === " " && focus >= 0) {
    e.preventDefault();
    toggle(rows[focus].id);
  }
});
document.getElementById("column-search").addEventListener("input", renderChooser);
// The chooser lists every column: built when opened, not on every page load.
chooser.addEventListener("toggle", () => chooser.open && renderChooser());
if (selected.size) {
  compare.href = "/compare?runs=" + [...selected].join(",");
  compare.setAttribute("aria-disabled", "false");
}
// The first rows came with the page (or the filter's error did); later pages are fetched on scroll.
if (config.first) {
  take(config.first);
  render();
} else {
  renderHead();
  if (errorBox.hidden) load();
}
