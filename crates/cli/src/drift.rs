//! `cairn drift`: a standalone drift report of a current CSV/Parquet file against a reference, as
//! Evidently's `DataDriftPreset` computes it (cairn-monitoring does the statistics), written as JSON and
//! self-contained HTML with a summary table on stdout. Exit 0 no dataset drift, 1 dataset drift, 2 error.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use cairn_monitoring::stattests::Method;
use cairn_monitoring::table::DEFAULT_SIZE_LIMIT;
use cairn_monitoring::{Correction, DriftOptions, InputError, Report, Source, drift_report};
use clap::Args;

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The reference data: a CSV or Parquet file.
    #[arg(long, value_name = "FILE")]
    reference: PathBuf,
    /// The current data: a CSV or Parquet file.
    #[arg(long, value_name = "FILE")]
    current: PathBuf,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// One test for every column: ks, wasserstein, psi, jensenshannon, chisquare, z or
    /// chisquare_2sample [default: Evidently's automatic choice per column].
    #[arg(long, value_name = "NAME")]
    method: Option<String>,
    /// The test's drift threshold (a p-value or a distance) [default: the test's own].
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    threshold: Option<f64>,
    /// Only these columns (comma-separated, or the flag repeated) [default: every common column].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Dataset drift when at least this share of the columns drifted.
    #[arg(
        long,
        value_name = "X",
        default_value_t = 0.5,
        allow_negative_numbers = true
    )]
    drift_share: f64,
    /// The dataset verdict by multiple-testing control over every column's p-value instead of the
    /// share: bonferroni (family-wise error) or bh (Benjamini–Hochberg, false discovery rate).
    #[arg(long, value_name = "NAME")]
    correction: Option<String>,
    /// Leave out, with the reason, columns that cannot be tested (every value missing, numbers in one
    /// file and text in the other, a method that does not apply) instead of failing.
    #[arg(long)]
    skip_invalid_columns: bool,
    /// Worker threads for the columns [default: one per CPU].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    threads: usize,
    /// Refuse a file larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_SIZE_LIMIT)]
    max_file_size: u64,
}

/// Runs the command and maps its outcome to the exit code (errors: one line on stderr).
pub fn run(args: DriftArgs) -> ExitCode {
    match drift(&args) {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cairn: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The report; `true` when the dataset drifted.
fn drift(a: &DriftArgs) -> anyhow::Result<bool> {
    let opts = options(a)?;
    // Both files at once, on two threads: decoding a large CSV file takes a while (a Parquet file is
    // only opened here; its columns are decoded as the report reaches them).
    let (reference, current) = std::thread::scope(|s| {
        let r = s.spawn(|| read(&a.reference, "reference", a.max_file_size));
        let c = read(&a.current, "current", a.max_file_size);
        let r = r
            .join()
            .unwrap_or_else(|_| Err(anyhow!("reading the reference failed")));
        (r, c)
    });
    let (reference, current) = (reference?, current?);
    let report = drift_report(reference.as_ref(), current.as_ref(), &opts)?;
    drop((reference, current)); // the tables are the bulk of the memory; the report is small
    if let Some(path) = &a.json {
        write(path, |w| Ok(serde_json::to_writer_pretty(w, &report)?))?;
    }
    if let Some(path) = &a.html {
        let title = format!(
            "Drift: {} against {}",
            file_name(&a.current),
            file_name(&a.reference)
        );
        let page = cairn_monitoring::html::render(&report, &title);
        write(path, |w| Ok(w.write_all(page.as_bytes())?))?;
    }
    print_summary(&report);
    Ok(report.dataset.drifted)
}

/// Validates the flags before any file is read (a typo should not wait for a gigabyte to load).
fn options(a: &DriftArgs) -> anyhow::Result<DriftOptions> {
    if let Some(m) = &a.method
        && Method::parse(m).is_none()
    {
        return Err(InputError::UnknownMethod(m.clone()).into());
    }
    let correction = match &a.correction {
        None => None,
        Some(c) => Some(
            Correction::parse(c)
                .ok_or_else(|| anyhow!("unknown correction '{c}' (known: bonferroni, bh)"))?,
        ),
    };
    let columns = a.columns.as_ref().map(|cols| {
        cols.iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
    });
    if columns.as_ref().is_some_and(Vec::is_empty) {
        bail!("--columns names no column");
    }
    Ok(DriftOptions {
        method: a.method.clone(),
        threshold: a.threshold,
        columns,
        drift_share: a.drift_share,
        correction,
        skip_invalid_columns: a.skip_invalid_columns,
        threads: a.threads,
    })
}

fn read(path: &Path, which: &str, limit: u64) -> anyhow::Result<Box<dyn Source + Send>> {
    cairn_monitoring::source::open_path(path, limit).map_err(|e| match e {
        // A file with no header at all: say which file, not "the input data".
        InputError::Empty { .. } => anyhow!("the {which} file {} is empty", path.display()),
        e => anyhow!("{which}: {e}"),
    })
}

fn write(
    path: &Path,
    body: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    body(&mut w)
        .and_then(|()| Ok(w.flush()?))
        .with_context(|| format!("writing {}", path.display()))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
}

fn print_summary(r: &Report) {
    let width = r
        .columns
        .iter()
        .map(|c| c.column.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 40);
    let mut out = format!(
        "{:<width$}  {:<11}  {:<17}  {:>12}  {:>9}  verdict\n",
        "column", "type", "method", "score", "threshold"
    );
    for c in &r.columns {
        let verdict = match (c.drifted, c.drifted_corrected) {
            (_, Some(true)) | (true, None) => "DRIFT",
            (true, Some(false)) => "drift (not after correction)",
            (false, _) => "ok",
        };
        out.push_str(&format!(
            "{:<width$}  {:<11}  {:<17}  {:>12}  {:>9}  {verdict}\n",
            c.column,
            c.column_type.as_str(),
            c.method,
            score(c.score),
            c.threshold
        ));
    }
    for s in &r.skipped {
        out.push_str(&format!("{:<width$}  skipped: {}\n", s.column, s.reason));
    }
    let d = &r.dataset;
    let rule = match (&d.correction, d.corrected_drifted_columns, d.alpha) {
        (Some(c), Some(k), Some(alpha)) => {
            format!("{c} correction at alpha {alpha}: {k} column(s) rejected")
        }
        _ => format!("share {:.3}, drift share {}", d.share, d.drift_share),
    };
    out.push_str(&format!(
        "Dataset drift: {} — {} of {} columns drifted ({rule})\n",
        if d.drifted {
            "DETECTED"
        } else {
            "not detected"
        },
        d.drifted_columns,
        d.columns
    ));
    // A closed pipe (e.g. `| head`) is not an error of the report.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// Small scores in scientific notation, so a p-value of 1e-12 does not print as 0.
fn score(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x != 0.0 && x.abs() < 1e-4 {
        format!("{x:.3e}")
    } else {
        format!("{x:.6}")
    }
}
