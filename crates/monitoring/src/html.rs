//! The drift report as one self-contained HTML page: inline CSS and inline SVG bar charts drawn from the
//! report's pre-binned histograms, no script and no external asset, so its size depends on the number
//! of columns and bins, never on the row count (Evidently embeds plotly and the raw points).

use std::fmt::Write;

use crate::report::{ColumnDrift, Histogram, Report};

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1f2328}\
h1{font-size:1.4rem}table{border-collapse:collapse;margin:1rem 0}\
td,th{border-bottom:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}\
.num{text-align:right;font-variant-numeric:tabular-nums}.drift{color:#cf222e;font-weight:600}\
.ok{color:#1a7f37}.col{margin:1.5rem 0}.legend span{display:inline-block;width:.8rem;height:.8rem;\
margin:0 .3rem 0 1rem;vertical-align:middle}svg text{font-size:10px;fill:#57606a}";

const REFERENCE_FILL: &str = "#8c959f";
const CURRENT_FILL: &str = "#0969da";

/// The page for `report`, titled `title`.
pub fn render(report: &Report, title: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let d = &report.dataset;
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1>\
         <p class=\"{cls}\">Dataset drift: {verdict} — {dc} of {c} columns drifted (share {share:.3}, \
         threshold {ds}){corr}</p>",
        t = escape(title),
        cls = if d.drifted { "drift" } else { "ok" },
        verdict = if d.drifted {
            "DETECTED"
        } else {
            "not detected"
        },
        dc = d.drifted_columns,
        c = d.columns,
        share = d.share,
        ds = d.drift_share,
        corr = d.correction.as_ref().map_or(String::new(), |c| format!(
            "; {} correction at α = {}: {} columns rejected",
            escape(c),
            d.alpha.unwrap_or(f64::NAN),
            d.corrected_drifted_columns.unwrap_or(0)
        )),
    );
    out.push_str(
        "<table><thead><tr><th>column</th><th>type</th><th>method</th><th class=\"num\">score</th>\
         <th class=\"num\">threshold</th><th>verdict</th></tr></thead><tbody>",
    );
    for c in &report.columns {
        let _ = write!(
            out,
            "<tr><td><a href=\"#col-{id}\">{name}</a></td><td>{ty}</td><td>{m}</td>\
             <td class=\"num\">{score}</td><td class=\"num\">{th}</td><td class=\"{cls}\">{v}</td></tr>",
            id = anchor(&c.column),
            name = escape(&c.column),
            ty = c.column_type.as_str(),
            m = escape(&c.stattest_name),
            score = fmt_score(c.score),
            th = c.threshold,
            cls = if c.drifted { "drift" } else { "ok" },
            v = if c.drifted { "drift" } else { "ok" },
        );
    }
    out.push_str("</tbody></table>");
    quality_table(&mut out, report);
    if !report.skipped.is_empty() {
        out.push_str("<h2>Skipped columns</h2><ul>");
        for s in &report.skipped {
            let _ = write!(out, "<li>{}: {}</li>", escape(&s.column), escape(&s.reason));
        }
        out.push_str("</ul>");
    }
    out.push_str(
        "<h2>Distributions</h2><p class=\"legend\"><span style=\"background:#8c959f\"></span>reference\
         <span style=\"background:#0969da\"></span>current (share of values per bin)</p>",
    );
    for c in &report.columns {
        column_section(&mut out, c);
    }
    out.push_str("</body></html>\n");
    out
}

fn quality_table(out: &mut String, report: &Report) {
    let q = &report.quality;
    let _ = write!(
        out,
        "<h2>Data quality</h2><p>{} reference rows, {} current rows",
        q.reference_rows, q.current_rows
    );
    if !q.missing_columns.is_empty() {
        let _ = write!(
            out,
            "; missing columns: {}",
            escape(&q.missing_columns.join(", "))
        );
    }
    if !q.extra_columns.is_empty() {
        let _ = write!(
            out,
            "; extra columns: {}",
            escape(&q.extra_columns.join(", "))
        );
    }
    out.push_str(
        "</p><table><thead><tr><th>column</th><th class=\"num\">missing</th>\
         <th class=\"num\">out of range</th><th class=\"num\">new categories</th><th>type</th></tr>\
         </thead><tbody>",
    );
    let share = |x: Option<f64>| x.map_or("—".to_owned(), |x| format!("{:.2} %", x * 100.0));
    for c in &q.columns {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"{}\">{}</td></tr>",
            escape(&c.column),
            share(Some(c.missing_share)),
            share(c.out_of_range_share),
            share(c.new_category_share),
            if c.type_mismatch { "drift" } else { "ok" },
            if c.type_mismatch {
                "mismatch"
            } else {
                c.column_type.as_str()
            },
        );
    }
    out.push_str("</tbody></table>");
}

fn column_section(out: &mut String, c: &ColumnDrift) {
    let _ = write!(
        out,
        "<section class=\"col\" id=\"col-{}\"><h3>{} <small class=\"{}\">{} {} = {}</small></h3>",
        anchor(&c.column),
        escape(&c.column),
        if c.drifted { "drift" } else { "ok" },
        escape(&c.method),
        if c.drifted { "drifted" } else { "ok" },
        fmt_score(c.score),
    );
    histogram_svg(out, &c.histogram);
    out.push_str("</section>");
}

/// A column's reference-vs-current histogram as one inline SVG element (no style attribute, no script:
/// fit for a page under a strict content security policy).
pub fn histogram(h: &Histogram) -> String {
    let mut out = String::new();
    histogram_svg(&mut out, h);
    out
}

/// Grouped bars: reference and current shares per bin, labels under every bin when they fit.
fn histogram_svg(out: &mut String, h: &Histogram) {
    let bins = h.labels.len().max(h.reference.len()).max(h.current.len());
    if bins == 0 {
        out.push_str("<p>no values</p>");
        return;
    }
    let total = |v: &[u64]| v.iter().sum::<u64>().max(1) as f64;
    let (rt, ct) = (total(&h.reference), total(&h.current));
    let shares = |v: &[u64], t: f64| -> Vec<f64> {
        (0..bins)
            .map(|i| v.get(i).copied().unwrap_or(0) as f64 / t)
            .collect()
    };
    let (rs, cs) = (shares(&h.reference, rt), shares(&h.current, ct));
    let top = rs
        .iter()
        .chain(&cs)
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-12);
    let (width, height, base) = (720.0, 180.0, 150.0);
    let step = width / bins as f64;
    let bar = (step / 2.0 - 1.0).max(0.5);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\">"
    );
    let labels: Vec<String> = (0..bins).map(|i| bin_label(h, i)).collect();
    for (i, label) in labels.iter().enumerate() {
        let x = i as f64 * step;
        for (j, (s, fill)) in [(rs[i], REFERENCE_FILL), (cs[i], CURRENT_FILL)]
            .into_iter()
            .enumerate()
        {
            let bar_h = s / top * (base - 10.0);
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bar_h:.1}\" fill=\"{fill}\">\
                 <title>{}: {:.4}</title></rect>",
                x + j as f64 * (bar + 1.0),
                base - bar_h,
                escape(label),
                s
            );
        }
    }
    let every = (bins / 12).max(1);
    for (i, label) in labels.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\">{}</text>",
                i as f64 * step,
                base + 14.0,
                escape(&truncate(label, 14))
            );
        }
    }
    out.push_str("</svg>");
}

fn bin_label(h: &Histogram, i: usize) -> String {
    if let Some(l) = h.labels.get(i) {
        return l.clone();
    }
    match &h.edges {
        Some(e) if i + 1 < e.len() => format!("{:.4}–{:.4}", e[i], e[i + 1]),
        _ => format!("bin {i}"),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn fmt_score(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        "—".into()
    }
}

/// A fragment id for a column name: its characters kept when safe, else their code points.
fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!(".{:x}", c as u32)
            }
        })
        .collect()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
