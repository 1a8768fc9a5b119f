// Metric charts and sparklines. A card is mounted (its series fetched and drawn) only when it scrolls
// into view; the server downsamples each series to the card's width in pixels (min/max/last per
// bucket) and a zoom asks again for just that range, at full resolution once it is small enough.
const $ = (s) => document.querySelector(s);
const xAxis = $(".x-axis"), logScale = $(".log-scale"), smoothing = $(".smoothing");
const charts = new Map();
let remounted = false; // once options change, a preloaded first series no longer applies

async function series(runs, key, width, min, max) {
  const q = new URLSearchParams({ runs, key, width: String(Math.max(1, Math.round(width))), x: xAxis ? xAxis.value : "step" });
  if (min !== undefined) q.set("min", String(min));
  if (max !== undefined) q.set("max", String(max));
  return fetchJson("/ui/series?" + q);
}

async function fetchJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error((await res.json()).error || res.statusText);
  return res.json();
}

// TensorBoard's debiased exponential moving average (what W&B and MLflow call smoothing).
function smooth(ys, weight) {
  if (!weight) return ys;
  let last = 0, n = 0;
  return ys.map((y) => {
    if (y === null) return null;
    last = last * weight + (1 - weight) * y;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

const sameX = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function toData(s) {
  const w = smoothing ? +smoothing.value : 0;
  const fields = ["last", "min", "max"];
  const rs = s.series;
  // Runs logged at the same steps share their buckets' x: their columns go as they came.
  if (rs.length && rs.every((r) => sameX(r.x, rs[0].x))) {
    const out = [rs[0].x];
    for (const r of rs) for (const f of fields) out.push(f === "last" ? smooth(r[f], w) : r[f]);
    return out;
  }
  // Otherwise one x axis for all runs of the card: uPlot wants aligned series, so join on x.
  const xs = [...new Set(rs.flatMap((r) => r.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const out = [xs];
  for (const r of rs) {
    for (const f of fields) {
      const col = new Array(xs.length).fill(null);
      r.x.forEach((x, i) => (col[at.get(x)] = r[f][i]));
      out.push(f === "last" ? smooth(col, w) : col);
    }
  }
  return out;
}

const palette = ["#2458b3", "#d1495b", "#00798c", "#edae49", "#66a182", "#8d5fd3", "#30638e", "#b5651d"];

async function mount(card) {
  if (charts.has(card)) return;
  charts.set(card, null);
  const box = card.querySelector(".chart");
  const runs = card.dataset.runs, key = card.dataset.key;
  const width = box.clientWidth || 400;
  let data;
  try {
    // The page may have preloaded this card's first series (step axis, a nominal width).
    const first = card.dataset.series && (!xAxis || xAxis.value === "step") && !remounted;
    data = first ? await fetchJson(card.dataset.series) : await series(runs, key, width);
  } catch (e) {
    box.textContent = e.message;
    return;
  }
  const ser = [{}];
  data.series.forEach((r, i) => {
    const color = palette[i % palette.length];
    ser.push({ label: r.run.slice(0, 8), stroke: color, width: 1.5, spanGaps: true, points: { show: r.raw && r.x.length < 60 } });
    ser.push({ label: "min", stroke: color + "55", width: 1, spanGaps: true, points: { show: false } });
    ser.push({ label: "max", stroke: color + "55", width: 1, spanGaps: true, points: { show: false } });
  });
  const mode = xAxis ? xAxis.value : "step";
  const opts = {
    width, height: 220, series: ser, legend: { show: true },
    scales: { x: { time: mode === "time" }, y: { distr: logScale && logScale.checked ? 3 : 1 } },
    cursor: { drag: { x: true, y: false } },
    hooks: {
      setSelect: [async (u) => {
        if (u.select.width < 2) return;
        const min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
        const z = await series(runs, key, width, mode === "time" ? min * 1000 : min, mode === "time" ? max * 1000 : max);
        u.setData(toData(time(z, mode)));
        u.setSelect({ width: 0, height: 0 }, false);
      }],
    },
  };
  const plot = new uPlot(opts, toData(time(data, mode)), box);
  charts.set(card, plot);
  card.dataset.mounted = "true";
  card.dataset.points = String(data.series.reduce((n, r) => n + r.x.length, 0));
  box.addEventListener("dblclick", async () => plot.setData(toData(time(await series(runs, key, width), mode))));
}

// uPlot's time scale is in seconds.
function time(s, mode) {
  if (mode !== "time") return s;
  return { ...s, series: s.series.map((r) => ({ ...r, x: r.x.map((x) => x / 1000) })) };
}

function remountAll() {
  remounted = true;
  for (const [card, plot] of charts) {
    if (plot) plot.destroy();
    card.querySelector(".chart").replaceChildren();
    charts.delete(card);
    delete card.dataset.mounted;
  }
  document.querySelectorAll("figure.chart-card").forEach((c) => cardObserver.observe(c));
}

async function sparkline(el) {
  const s = await series(el.dataset.run, el.dataset.key, 100);
  const ys = s.series[0].last.filter((v) => v !== null);
  const c = document.createElement("canvas");
  c.width = 100;
  c.height = 20;
  const g = c.getContext("2d");
  const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
  g.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--accent") || "#2458b3";
  g.beginPath();
  ys.forEach((y, i) => {
    const x = ys.length > 1 ? (i / (ys.length - 1)) * 99 : 50;
    const py = 19 - ((y - lo) / span) * 18;
    i ? g.lineTo(x, py) : g.moveTo(x, py);
  });
  g.stroke();
  el.replaceChildren(c);
  el.dataset.points = String(ys.length);
}

const cardObserver = new IntersectionObserver((entries) => {
  for (const e of entries) if (e.isIntersecting) { cardObserver.unobserve(e.target); mount(e.target); }
}, { rootMargin: "200px" });
const sparkObserver = new IntersectionObserver((entries) => {
  for (const e of entries) if (e.isIntersecting) { sparkObserver.unobserve(e.target); sparkline(e.target).catch(() => {}); }
}, { rootMargin: "100px" });
// Cards already in view are mounted at once (the observer's first report comes a frame later).
const inView = (el) => el.getBoundingClientRect().top < window.innerHeight + 200;
document.querySelectorAll("figure.chart-card").forEach((c) => (inView(c) ? mount(c) : cardObserver.observe(c)));
document.querySelectorAll(".sparkline").forEach((s) => sparkObserver.observe(s));
[xAxis, logScale, smoothing].forEach((el) => el && el.addEventListener("change", remountAll));
