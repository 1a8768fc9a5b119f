// Parallel coordinates and a scatter of the compared runs, on canvas (thousands of lines stay fast;
// categorical params are labelled with their values).
const data = JSON.parse(document.getElementById("compare-data").textContent);
const axes = data.axes.filter((a) => a.values.some((v) => v !== null));
const css = getComputedStyle(document.documentElement);
const fg = css.getPropertyValue("--fg").trim() || "#000", accent = css.getPropertyValue("--accent").trim() || "#2458b3";

function range(a) {
  const vs = a.values.filter((v) => v !== null);
  const lo = Math.min(...vs), hi = Math.max(...vs);
  return [lo, hi === lo ? lo + 1 : hi];
}

function label(a, v) {
  return a.categories ? a.categories[v] ?? "" : +Number(v).toPrecision(4);
}

function parallel() {
  const c = document.getElementById("parallel");
  if (!axes.length) { c.hidden = true; return; }
  const g = c.getContext("2d"), W = c.width, H = c.height, top = 30, bottom = H - 30;
  const step = axes.length > 1 ? (W - 120) / (axes.length - 1) : 0;
  const xs = axes.map((_, i) => 60 + i * step);
  const ranges = axes.map(range);
  g.clearRect(0, 0, W, H);
  g.globalAlpha = data.runs.length > 500 ? 0.15 : 0.7;
  g.strokeStyle = accent;
  for (let r = 0; r < data.runs.length; r++) {
    g.beginPath();
    let open = false;
    axes.forEach((a, i) => {
      const v = a.values[r];
      if (v === null) { open = false; return; }
      const [lo, hi] = ranges[i];
      const y = bottom - ((v - lo) / (hi - lo)) * (bottom - top);
      open ? g.lineTo(xs[i], y) : g.moveTo(xs[i], y);
      open = true;
    });
    g.stroke();
  }
  g.globalAlpha = 1;
  g.fillStyle = fg;
  g.strokeStyle = fg;
  g.font = "11px system-ui";
  g.textAlign = "center";
  axes.forEach((a, i) => {
    g.beginPath(); g.moveTo(xs[i], top); g.lineTo(xs[i], bottom); g.stroke();
    g.fillText(a.name.replace(/^(params|metrics)\./, ""), xs[i], 14);
    const [lo, hi] = ranges[i];
    g.fillText(String(label(a, hi)), xs[i], top - 4 + 0);
    g.fillText(String(label(a, lo)), xs[i], bottom + 14);
  });
}

function scatter() {
  const c = document.getElementById("scatter"), sx = document.getElementById("scatter-x"), sy = document.getElementById("scatter-y");
  if (axes.length < 2) { c.hidden = true; return; }
  if (!sx.options.length) {
    axes.forEach((a, i) => { sx.add(new Option(a.name, String(i))); sy.add(new Option(a.name, String(i))); });
    sy.value = String(axes.length - 1);
    sx.addEventListener("change", scatter);
    sy.addEventListener("change", scatter);
  }
  const ax = axes[+sx.value], ay = axes[+sy.value];
  const [x0, x1] = range(ax), [y0, y1] = range(ay);
  const g = c.getContext("2d"), W = c.width, H = c.height, pad = 40;
  g.clearRect(0, 0, W, H);
  g.fillStyle = accent;
  for (let r = 0; r < data.runs.length; r++) {
    const x = ax.values[r], y = ay.values[r];
    if (x === null || y === null) continue;
    g.fillRect(pad + ((x - x0) / (x1 - x0)) * (W - 2 * pad) - 2, H - pad - ((y - y0) / (y1 - y0)) * (H - 2 * pad) - 2, 4, 4);
  }
  g.fillStyle = fg;
  g.font = "11px system-ui";
  g.fillText(ax.name, W / 2, H - 8);
  g.fillText(ay.name, 4, 14);
}

parallel();
scatter();
