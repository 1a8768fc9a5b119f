//! `cairn.yaml` / `dvc.yaml` → [`Pipeline`]: dvc's `stages:` shape (`cmd`, `deps`, `params`, `outs`,
//! `metrics`, `plots`, `wdir`, `vars`, `${}`, `foreach`/`do`, `matrix`, `frozen`, `always_changed`)
//! plus Cairn's `code:`, `env:` and `lock:` on a stage, and the top-level `gates:`, `promote:`,
//! `triggers:`. Every error names `file:line:col`.

use std::path::Path;

use crate::error::{PipelineError, Pos, Result};
use crate::interpolate;
use crate::params::{Override, Params};
use crate::paths;
use crate::spec::{CodeScope, GateRule, ParamRef, PathRef, Pipeline, Stage};
use crate::triggers_and_gates as tg;
use crate::yaml::{self, Key, Kind, Node};

/// Top-level keys of dvc.yaml that Cairn accepts and ignores, so a dvc.yaml runs as is.
const DVC_ONLY_TOP: &[&str] = &["plots", "metrics", "artifacts", "datasets"];
const TOP: &[&str] = &[
    "version", "name", "params", "vars", "code", "env", "stages", "gates", "promote", "triggers",
    "executor", "steps",
];
const STAGE: &[&str] = &[
    "cmd",
    "wdir",
    "deps",
    "params",
    "outs",
    "metrics",
    "plots",
    "vars",
    "frozen",
    "always_changed",
    "timeout",
    "retry",
    "executor",
    "resources",
    "desc",
    "meta",
    "code",
    "env",
    "lock",
];

/// Parses `text` (the file shown as `file`, in project `root`) with params overrides applied; returns
/// the pipeline and the params files it reads.
pub fn parse(
    file: &Path,
    root: &Path,
    text: &str,
    overrides: &[Override],
) -> Result<(Pipeline, Params)> {
    let doc = yaml::parse(file, text)?;
    let p = Parser { file, root };
    p.pipeline(&doc, overrides)
}

/// Defaults from the top level that each stage inherits.
#[derive(Default)]
struct Defaults {
    code: Option<Vec<String>>,
    env: Vec<String>,
    lock: Option<PathRef>,
}

pub(crate) struct Parser<'a> {
    pub(crate) file: &'a Path,
    root: &'a Path,
}

impl Parser<'_> {
    pub(crate) fn err(&self, pos: Pos, message: impl Into<String>) -> PipelineError {
        PipelineError::config(self.file, pos, message)
    }

    pub(crate) fn map<'n>(&self, n: &'n Node, what: &str) -> Result<&'n [(Key, Node)]> {
        match &n.kind {
            Kind::Map(m) => Ok(m),
            Kind::Null => Ok(&[]),
            _ => Err(self.err(
                n.pos,
                format!("{what} must be a mapping, not {}", n.kind_name()),
            )),
        }
    }

    pub(crate) fn string(&self, n: &Node, what: &str) -> Result<String> {
        match &n.kind {
            Kind::Str(s) if !s.is_empty() => Ok(s.clone()),
            Kind::Str(_) => Err(self.err(n.pos, format!("{what} must not be empty"))),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => {
                Ok(n.scalar_text().unwrap_or_default())
            }
            _ => Err(self.err(
                n.pos,
                format!("{what} must be a string, not {}", n.kind_name()),
            )),
        }
    }

    pub(crate) fn number(&self, n: &Node, what: &str) -> Result<f64> {
        match n.kind {
            Kind::Int(i) => Ok(i as f64),
            Kind::Float(f) => Ok(f),
            _ => Err(self.err(
                n.pos,
                format!("{what} must be a number, not {}", n.kind_name()),
            )),
        }
    }

    fn boolean(&self, n: &Node, what: &str) -> Result<bool> {
        match n.kind {
            Kind::Bool(b) => Ok(b),
            _ => Err(self.err(
                n.pos,
                format!("{what} must be true or false, not {}", n.kind_name()),
            )),
        }
    }

    /// A string or a list of strings (`cmd`, `code`).
    fn strings(&self, n: &Node, what: &str) -> Result<Vec<(String, Pos)>> {
        match &n.kind {
            Kind::Seq(items) => items
                .iter()
                .map(|i| Ok((self.string(i, what)?, i.pos)))
                .collect(),
            Kind::Null => Ok(Vec::new()),
            _ => Ok(vec![(self.string(n, what)?, n.pos)]),
        }
    }

    pub(crate) fn unknown_keys(
        &self,
        m: &[(Key, Node)],
        known: &[&str],
        ignored: &[&str],
        what: &str,
    ) -> Result<()> {
        for (k, _) in m {
            if !known.contains(&k.name.as_str()) && !ignored.contains(&k.name.as_str()) {
                return Err(self.err(
                    k.pos,
                    format!(
                        "unknown key '{}' in {what} (expected one of: {})",
                        k.name,
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn pipeline(&self, doc: &Node, overrides: &[Override]) -> Result<(Pipeline, Params)> {
        let top = self.map(doc, "the pipeline file")?;
        self.unknown_keys(top, TOP, DVC_ONLY_TOP, "the pipeline file")?;
        let get = |k: &str| doc.get(k);
        let name = match get("name") {
            Some(n) => self.string(n, "name")?,
            None => self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".to_owned()),
        };
        // dvc's top-level `params:` is a list of files for `dvc params diff`; ours names the default file.
        let params_file = match get("params") {
            Some(
                n @ Node {
                    kind: Kind::Str(_), ..
                },
            ) => paths::resolve(".", &self.string(n, "params")?)
                .map_err(|why| self.err(n.pos, why))?,
            _ => crate::params::DEFAULT_PARAMS_FILE.to_owned(),
        };
        let mut params = Params::load(self.root, &params_file, &[], overrides)?;
        let mut ctx = params.default_tree().clone();
        if let Some(vars) = get("vars") {
            self.merge_vars(&mut ctx, vars, ".")?;
        }
        let mut defaults = Defaults::default();
        if let Some(code) = get("code") {
            defaults.code = Some(self.code_globs(code, ".")?);
        }
        if let Some(env) = get("env") {
            let (vars, lock) = self.env(env, ".")?;
            defaults.env = vars;
            defaults.lock = lock;
        }
        let mut stages = Vec::new();
        // `steps:` (the reference spec's word) is read as `stages:`.
        if let Some(s) = get("stages").or_else(|| get("steps")) {
            for (key, body) in self.map(s, "stages")? {
                self.stage_entry(key, body, &ctx, &defaults, &params_file, &mut stages)?;
            }
        }
        if stages.is_empty() {
            return Err(self.err(
                doc.pos,
                "the pipeline has no stages (expected `stages:` with at least one stage)",
            ));
        }
        for stage in &stages {
            for p in &stage.params {
                params.ensure(&p.file)?;
                if !p.key.is_empty() && params.get(&p.file, &p.key).is_none() {
                    return Err(self.err(
                        p.pos,
                        format!(
                            "stage '{}': param '{}' is not in {}",
                            stage.name, p.key, p.file
                        ),
                    ));
                }
            }
        }
        let gates = match get("gates") {
            Some(g) => tg::gates(self, g, &stages)?,
            None => Vec::new(),
        };
        let promote = match get("promote") {
            Some(p) => Some(tg::promote(self, p, &stages)?),
            None => None,
        };
        if let Some(g) = gates
            .iter()
            .find(|g| matches!(g.rule, GateRule::CompareTo { .. }))
            && promote.is_none()
        {
            return Err(self.err(
                g.pos,
                "a gate with compare_to needs `promote:` (its name is the model compared)",
            ));
        }
        let triggers = match get("triggers") {
            Some(t) => tg::triggers(self, t)?,
            None => Vec::new(),
        };
        Ok((
            Pipeline {
                name,
                params_file,
                stages,
                gates,
                promote,
                triggers,
            },
            params,
        ))
    }

    /// `vars:` — a list of files (`file.yaml`, `file.yaml:key1,key2`) and inline mappings, merged
    /// into the interpolation context in order.
    fn merge_vars(&self, ctx: &mut Node, vars: &Node, wdir: &str) -> Result<()> {
        let items: Vec<&Node> = match &vars.kind {
            Kind::Seq(items) => items.iter().collect(),
            Kind::Map(_) => vec![vars],
            _ => return Err(self.err(vars.pos, "vars must be a list of files and mappings")),
        };
        for item in items {
            let values: Vec<(String, Node)> = match &item.kind {
                Kind::Map(entries) => entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.clone()))
                    .collect(),
                Kind::Str(s) => {
                    let (file, keys) = match s.split_once(':') {
                        Some((f, k)) => (f, Some(k)),
                        None => (s.as_str(), None),
                    };
                    let rel = paths::resolve(wdir, file).map_err(|why| self.err(item.pos, why))?;
                    let full = self.root.join(&rel);
                    if !full.is_file() {
                        return Err(self.err(item.pos, format!("vars file '{rel}' does not exist")));
                    }
                    let all = yaml::load(&full, Path::new(&rel))?;
                    match keys {
                        None => match &all.kind {
                            Kind::Map(entries) => entries
                                .iter()
                                .map(|(k, v)| (k.name.clone(), v.clone()))
                                .collect(),
                            Kind::Null => Vec::new(),
                            _ => {
                                return Err(self.err(
                                    item.pos,
                                    format!(
                                        "vars file '{rel}' is not a mapping of names to values"
                                    ),
                                ));
                            }
                        },
                        Some(keys) => {
                            let mut picked = Vec::new();
                            for k in keys.split(',').map(str::trim) {
                                let v = all.lookup(k).ok_or_else(|| {
                                    self.err(item.pos, format!("'{k}' is not in vars file '{rel}'"))
                                })?;
                                picked.push((k.to_owned(), v.clone()));
                            }
                            picked
                        }
                    }
                }
                _ => return Err(self.err(item.pos, "a vars item must be a file name or a mapping")),
            };
            for (k, v) in values {
                ctx.insert(&k, v);
            }
        }
        Ok(())
    }

    fn stage_entry(
        &self,
        key: &Key,
        body: &Node,
        ctx: &Node,
        defaults: &Defaults,
        params_file: &str,
        out: &mut Vec<Stage>,
    ) -> Result<()> {
        check_stage_name(&key.name).map_err(|why| self.err(key.pos, why))?;
        if out.iter().any(|s| s.name == key.name) {
            return Err(self.err(key.pos, format!("stage '{}' is defined twice", key.name)));
        }
        let foreach = body.get("foreach");
        let matrix = body.get("matrix");
        if foreach.is_none() && matrix.is_none() {
            let stage = self.stage(&key.name, key.pos, body, ctx, defaults, params_file)?;
            out.push(stage);
            return Ok(());
        }
        if foreach.is_some() {
            let m = self.map(body, &format!("stage '{}'", key.name))?;
            let what = format!("stage '{}' with foreach", key.name);
            self.unknown_keys(m, &["foreach", "do"], &[], &what)?;
        }
        let items = match (foreach, matrix) {
            (Some(f), None) => {
                let f = interpolate::node(self.file, f, ctx)?;
                foreach_items(&f).map_err(|why| self.err(f.pos, why))?
            }
            (None, Some(m)) => {
                let m = interpolate::node(self.file, m, ctx)?;
                matrix_items(&m).map_err(|why| self.err(m.pos, why))?
            }
            _ => return Err(self.err(key.pos, "a stage takes foreach or matrix, not both")),
        };
        let template = match (foreach.is_some(), body.get("do")) {
            (true, Some(d)) => d,
            (true, None) => {
                return Err(self.err(
                    key.pos,
                    format!("stage '{}': foreach needs `do:`", key.name),
                ));
            }
            (false, _) => body,
        };
        for (item_key, item) in items {
            let name = format!("{}@{item_key}", key.name);
            check_stage_name(&name).map_err(|why| self.err(key.pos, why))?;
            let mut item_ctx = ctx.clone();
            item_ctx.insert("key", Node::new(key.pos, Kind::Str(item_key.clone())));
            item_ctx.insert("item", item);
            let mut body = template.clone();
            if let Kind::Map(entries) = &mut body.kind {
                entries.retain(|(k, _)| k.name != "matrix");
            }
            out.push(self.stage(&name, key.pos, &body, &item_ctx, defaults, params_file)?);
        }
        Ok(())
    }

    fn stage(
        &self,
        name: &str,
        pos: Pos,
        body: &Node,
        ctx: &Node,
        defaults: &Defaults,
        params_file: &str,
    ) -> Result<Stage> {
        let what = format!("stage '{name}'");
        let m = self.map(body, &what)?;
        self.unknown_keys(m, STAGE, &[], &what)?;
        let mut ctx = ctx.clone();
        if let Some(vars) = body.get("vars") {
            self.merge_vars(&mut ctx, vars, ".")?;
        }
        let get = |k: &str| -> Result<Option<Node>> {
            body.get(k)
                .map(|n| interpolate::node(self.file, n, &ctx))
                .transpose()
        };
        let wdir = match get("wdir")? {
            Some(w) => paths::resolve(".", &self.string(&w, "wdir")?)
                .map_err(|why| self.err(w.pos, why))?,
            None => ".".to_owned(),
        };
        let cmd: Vec<String> = match get("cmd")? {
            Some(c) => self
                .strings(&c, "cmd")?
                .into_iter()
                .map(|(s, _)| s)
                .collect(),
            None => Vec::new(),
        };
        if cmd.is_empty() {
            return Err(self.err(pos, format!("{what} has no `cmd`")));
        }
        let path_list = |key: &str| -> Result<Vec<PathRef>> {
            match get(key)? {
                Some(n) => self.path_list(&n, &wdir, &format!("{what}: {key}")),
                None => Ok(Vec::new()),
            }
        };
        let deps = path_list("deps")?;
        let metrics = path_list("metrics")?;
        let mut outs = path_list("outs")?;
        outs.extend(metrics.iter().cloned());
        outs.extend(path_list("plots")?);
        let params = match get("params")? {
            Some(n) => self.param_list(&n, &wdir, params_file, &what)?,
            None => Vec::new(),
        };
        let code = match get("code")? {
            Some(c) => CodeScope::Globs(self.code_globs(&c, &wdir)?),
            None => match &defaults.code {
                Some(globs) => CodeScope::Globs(globs.clone()),
                None => CodeScope::Project,
            },
        };
        let (mut env, mut lock) = (defaults.env.clone(), defaults.lock.clone());
        if let Some(e) = get("env")? {
            let (vars, l) = self.env(&e, &wdir)?;
            env.extend(vars);
            lock = l.or(lock);
        }
        if let Some(l) = get("lock")? {
            lock = Some(self.path(&l, &wdir, &format!("{what}: lock"))?);
        }
        env.sort();
        env.dedup();
        let flag = |key: &str| -> Result<bool> {
            get(key)?.map_or(Ok(false), |n| self.boolean(&n, &format!("{what}: {key}")))
        };
        Ok(Stage {
            name: name.to_owned(),
            pos,
            cmd,
            wdir,
            deps,
            params,
            outs,
            metrics,
            code,
            env,
            lock,
            frozen: flag("frozen")?,
            always_changed: flag("always_changed")?,
            policy: crate::run_policy::parse(
                self,
                &interpolate::node(self.file, body, &ctx)?,
                &what,
            )?,
        })
    }

    fn path(&self, n: &Node, wdir: &str, what: &str) -> Result<PathRef> {
        let s = self.string(n, what)?;
        let path =
            paths::resolve(wdir, &s).map_err(|why| self.err(n.pos, format!("{what}: {why}")))?;
        if path == "." {
            return Err(self.err(n.pos, format!("{what}: '{s}' is the whole project")));
        }
        Ok(PathRef { path, pos: n.pos })
    }

    /// A list of paths; an item may also be dvc's `{path: {options}}` (the options are accepted and
    /// ignored: every out is cached).
    fn path_list(&self, n: &Node, wdir: &str, what: &str) -> Result<Vec<PathRef>> {
        let items = match &n.kind {
            Kind::Seq(items) => items.as_slice(),
            Kind::Null => &[],
            _ => return Err(self.err(n.pos, format!("{what} must be a list of paths"))),
        };
        let mut out: Vec<PathRef> = Vec::new();
        for item in items {
            let p = match &item.kind {
                Kind::Map(entries) if entries.len() == 1 => {
                    let (k, _) = &entries[0];
                    let key = Node::new(k.pos, Kind::Str(k.name.clone()));
                    self.path(&key, wdir, what)?
                }
                _ => self.path(item, wdir, what)?,
            };
            if out.iter().any(|o| o.path == p.path) {
                return Err(self.err(p.pos, format!("{what}: '{}' is listed twice", p.path)));
            }
            out.push(p);
        }
        Ok(out)
    }

    /// `params:` items: `train.C` (a key of the default file), `{file.yaml: [keys]}`, or
    /// `{file.yaml: }` / `{file.yaml: []}` for the whole file.
    fn param_list(
        &self,
        n: &Node,
        wdir: &str,
        default_file: &str,
        what: &str,
    ) -> Result<Vec<ParamRef>> {
        let Kind::Seq(items) = &n.kind else {
            return Err(self.err(n.pos, format!("{what}: params must be a list")));
        };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                Kind::Map(entries) => {
                    for (k, keys) in entries {
                        let file =
                            paths::resolve(wdir, &k.name).map_err(|why| self.err(k.pos, why))?;
                        match &keys.kind {
                            Kind::Null => out.push(ParamRef {
                                file,
                                key: String::new(),
                                pos: k.pos,
                            }),
                            Kind::Seq(ks) if ks.is_empty() => out.push(ParamRef {
                                file,
                                key: String::new(),
                                pos: k.pos,
                            }),
                            Kind::Seq(ks) => {
                                for key in ks {
                                    out.push(ParamRef {
                                        file: file.clone(),
                                        key: self.string(key, "a param key")?,
                                        pos: key.pos,
                                    });
                                }
                            }
                            _ => out.push(ParamRef {
                                file,
                                key: self.string(keys, "a param key")?,
                                pos: keys.pos,
                            }),
                        }
                    }
                }
                // dvc: the default params file is looked for in the stage's wdir.
                _ => out.push(ParamRef {
                    file: paths::resolve(wdir, default_file)
                        .map_err(|why| self.err(item.pos, why))?,
                    key: self.string(item, "a param key")?,
                    pos: item.pos,
                }),
            }
        }
        Ok(out)
    }

    fn code_globs(&self, n: &Node, wdir: &str) -> Result<Vec<String>> {
        self.strings(n, "code")?
            .into_iter()
            .map(|(g, pos)| {
                let dir_like = g.ends_with('/');
                let resolved = paths::resolve(wdir, &g).map_err(|why| self.err(pos, why))?;
                globset::Glob::new(&resolved)
                    .map_err(|e| self.err(pos, format!("code: bad glob '{g}': {e}")))?;
                Ok(if dir_like && resolved != "." {
                    format!("{resolved}/")
                } else {
                    resolved
                })
            })
            .collect()
    }

    /// `env:` — a list of variable names, or `{vars: [names], lock: file}`.
    fn env(&self, n: &Node, wdir: &str) -> Result<(Vec<String>, Option<PathRef>)> {
        let names = |n: &Node| -> Result<Vec<String>> {
            self.strings(n, "env")?
                .into_iter()
                .map(|(name, pos)| {
                    if name.is_empty() || name.contains('=') || name.contains(char::is_whitespace) {
                        Err(self.err(
                            pos,
                            format!("env: '{name}' is not an environment variable name"),
                        ))
                    } else {
                        Ok(name)
                    }
                })
                .collect()
        };
        match &n.kind {
            Kind::Map(m) => {
                self.unknown_keys(m, &["vars", "lock"], &[], "env")?;
                let vars = n.get("vars").map(names).transpose()?.unwrap_or_default();
                let lock = n
                    .get("lock")
                    .map(|l| self.path(l, wdir, "env: lock"))
                    .transpose()?;
                Ok((vars, lock))
            }
            _ => Ok((names(n)?, None)),
        }
    }
}

/// Stage names: letters, digits, `_`, `-`, `.`; `@` only between a foreach stage and its item.
fn check_stage_name(name: &str) -> Result<(), String> {
    let (base, item) = match name.split_once('@') {
        Some((b, i)) => (b, Some(i)),
        None => (name, None),
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    };
    if !ok(base) || item.is_some_and(|i| i.is_empty() || i.contains(['/', '\\', ':', '@'])) {
        return Err(format!(
            "'{name}' is not a valid stage name (letters, digits, '_', '-', '.')"
        ));
    }
    Ok(())
}

/// `foreach:` items as (key, item): a list gives its scalars as keys (an index for mappings), a
/// mapping its keys, in file order.
fn foreach_items(n: &Node) -> Result<Vec<(String, Node)>, String> {
    match &n.kind {
        Kind::Seq(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                (
                    item.scalar_text().unwrap_or_else(|| i.to_string()),
                    item.clone(),
                )
            })
            .collect()),
        Kind::Map(entries) => Ok(entries
            .iter()
            .map(|(k, v)| (k.name.clone(), v.clone()))
            .collect()),
        _ => Err(format!(
            "foreach must be a list or a mapping, not {}",
            n.kind_name()
        )),
    }
}

/// `matrix:` — every combination of the named lists, keyed `a-b` in the order the names are written.
fn matrix_items(n: &Node) -> Result<Vec<(String, Node)>, String> {
    let Kind::Map(dims) = &n.kind else {
        return Err("matrix must be a mapping of names to lists".into());
    };
    let mut combos: Vec<(Vec<String>, Node)> = vec![(Vec::new(), Node::empty_map(n.pos))];
    for (name, values) in dims {
        let Kind::Seq(values) = &values.kind else {
            return Err(format!("matrix: '{}' must be a list", name.name));
        };
        let mut next = Vec::new();
        for (keys, item) in &combos {
            for (i, v) in values.iter().enumerate() {
                let mut keys = keys.clone();
                keys.push(
                    v.scalar_text()
                        .unwrap_or_else(|| format!("{}{i}", name.name)),
                );
                let mut item = item.clone();
                item.insert(&name.name, v.clone());
                next.push((keys, item));
            }
        }
        combos = next;
    }
    Ok(combos
        .into_iter()
        .map(|(keys, item)| (keys.join("-"), item))
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::spec::{CodeScope, GateRule, Op};
    use crate::testutil::{error, project};
    use cairn_domain::trigger::TriggerKind;

    const PARAMS: &str =
        "prepare:\n  scale: 2\ntrain:\n  C: 1.0\n  opt:\n    lr: 0.1\nregions: [us, eu]\n";

    #[test]
    fn a_dvc_shaped_file() {
        let yaml = r#"
stages:
  prepare:
    cmd: python prepare.py --scale ${prepare.scale}
    deps: [prepare.py, data/raw.csv]
    params: [prepare.scale]
    outs:
      - prepared.csv
  train:
    wdir: src
    cmd:
      - python train.py
      - echo done
    deps: [train.py, ../prepared.csv]
    params:
      - train.C
      - other.yaml: [k]
    outs: [../model]
    metrics:
      - ../eval.json: {cache: false}
    env: [SEED]
    code: [lib/]
    lock: ../uv.lock
"#;
        let (_d, p) = project(&[
            ("cairn.yaml", yaml),
            ("params.yaml", PARAMS),
            ("src/params.yaml", "train:\n  C: 2.0\n"),
            ("src/other.yaml", "k: 3\n"),
        ]);
        let p = p.unwrap();
        let s = &p.pipeline.stages;
        assert_eq!(s[0].cmd, ["python prepare.py --scale 2"]);
        assert_eq!(
            s[0].deps
                .iter()
                .map(|d| d.path.as_str())
                .collect::<Vec<_>>(),
            ["prepare.py", "data/raw.csv"]
        );
        assert_eq!(s[1].wdir, "src");
        assert_eq!(s[1].cmd.len(), 2);
        assert_eq!(s[1].deps[1].path, "prepared.csv");
        assert_eq!(
            s[1].outs
                .iter()
                .map(|o| o.path.as_str())
                .collect::<Vec<_>>(),
            ["model", "eval.json"]
        );
        assert_eq!(s[1].metrics[0].path, "eval.json");
        assert_eq!(
            (s[1].params[1].file.as_str(), s[1].params[1].key.as_str()),
            ("src/other.yaml", "k")
        );
        assert_eq!(s[1].env, ["SEED"]);
        assert_eq!(s[1].code, CodeScope::Globs(vec!["src/lib/".into()]));
        assert_eq!(s[1].lock.as_ref().unwrap().path, "uv.lock");
        assert_eq!(p.dag.order, [0, 1]);
        assert!(p.dag.upstream[1].contains(&0));
    }

    #[test]
    fn foreach_over_lists_mappings_and_params() {
        let yaml = r#"
vars:
  - sizes: {small: 1, big: 9}
stages:
  fetch:
    foreach: ${regions}
    do:
      cmd: fetch ${item} > ${item}.csv
      outs: ["${item}.csv"]
  fit:
    foreach: ${sizes}
    do:
      cmd: fit --n ${item} --name ${key}
      outs: ["fit-${key}.bin"]
  pairs:
    foreach:
      - {a: 1, b: x}
      - {a: 2, b: y}
    do:
      cmd: echo ${item.a} ${item.b}
"#;
        let (_d, p) = project(&[("cairn.yaml", yaml), ("params.yaml", PARAMS)]);
        let p = p.unwrap();
        let names: Vec<&str> = p.pipeline.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "fetch@us",
                "fetch@eu",
                "fit@small",
                "fit@big",
                "pairs@0",
                "pairs@1"
            ]
        );
        assert_eq!(p.pipeline.stages[1].cmd, ["fetch eu > eu.csv"]);
        assert_eq!(p.pipeline.stages[1].outs[0].path, "eu.csv");
        assert_eq!(p.pipeline.stages[3].cmd, ["fit --n 9 --name big"]);
        assert_eq!(p.pipeline.stages[5].cmd, ["echo 2 y"]);
        assert_eq!(p.stage_indexes(&["fetch".into()]).unwrap(), [0, 1]);
        assert!(p.stage_indexes(&["nope".into()]).is_err());
    }

    #[test]
    fn matrix_expands_every_combination() {
        let yaml = "stages:\n  t:\n    matrix:\n      m: [a, b]\n      n: [1, 2]\n    cmd: run ${item.m} ${item.n}\n";
        let (_d, p) = project(&[("cairn.yaml", yaml)]);
        let p = p.unwrap();
        let names: Vec<&str> = p.pipeline.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["t@a-1", "t@a-2", "t@b-1", "t@b-2"]);
        assert_eq!(p.pipeline.stages[2].cmd, ["run b 1"]);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let cases: &[(&str, &str)] = &[
            (
                "stages:\n  a:\n    cmd: x\n    dpes: [y]\n",
                "cairn.yaml:4:5: unknown key 'dpes' in stage 'a'",
            ),
            (
                "stages:\n  a:\n    deps: [y]\n",
                "cairn.yaml:2:3: stage 'a' has no `cmd`",
            ),
            (
                "stages:\n  a:\n    cmd: x\n    deps: [[y]]\n",
                "cairn.yaml:4:12: stage 'a': deps must be a string",
            ),
            (
                "stages:\n  a:\n    cmd: x ${nope}\n",
                "cairn.yaml:3:10: cannot interpolate",
            ),
            (
                "stages:\n  a:\n    cmd: x\n    params: [train.D]\n",
                "cairn.yaml:4:14: stage 'a': param 'train.D' is not in params.yaml",
            ),
            (
                "stages:\n  a:\n    cmd: x\n    outs: [../up]\n",
                "cairn.yaml:4:12: stage 'a': outs: '../up' is outside the project",
            ),
            (
                "stages:\n  a b:\n    cmd: x\n",
                "cairn.yaml:2:3: 'a b' is not a valid stage name",
            ),
            ("stages:\n  a:\n    cmd: [x\n", "cairn.yaml:"),
            ("stagez: {}\n", "cairn.yaml:1:1: unknown key 'stagez'"),
            ("stages: {}\n", "cairn.yaml:1:1: the pipeline has no stages"),
            (
                "stages:\n  a:\n    cmd: x\n    retry: {on: [weird]}\n",
                "cairn.yaml:4:18: retry: on: 'weird' is not one of",
            ),
            (
                "stages:\n  a:\n    cmd: x\n    timeout: soon\n",
                "cairn.yaml:4:14: stage 'a': timeout: 'soon'",
            ),
        ];
        for (yaml, want) in cases {
            let got = error(yaml, &[("params.yaml", PARAMS)]);
            assert!(
                got.starts_with(want),
                "for\n{yaml}\nwant prefix: {want}\ngot:         {got}"
            );
        }
    }

    #[test]
    fn gates_promote_and_triggers_are_typed() {
        let yaml = r#"
stages:
  train:
    cmd: python train.py
    outs: [model]
    metrics: [eval.json]
gates:
  - metric: accuracy
    op: ">="
    value: 0.8
  - metric: accuracy
    compare_to: champion
    min_delta: 0.002
promote:
  model: model
  name: churn
  alias: champion
triggers:
  nightly: {cron: "0 3 * * *", timezone: Europe/Berlin}
  drift: {alert: churn-prod/drift, cooldown: 1h}
"#;
        let (_d, p) = project(&[("cairn.yaml", yaml)]);
        let p = p.unwrap().pipeline;
        assert_eq!(p.gates.len(), 2);
        assert_eq!(
            p.gates[0].rule,
            GateRule::Absolute {
                op: Op::Ge,
                value: 0.8
            }
        );
        assert_eq!(p.gates[0].name, "accuracy >= 0.8");
        assert_eq!(
            p.gates[1].rule,
            GateRule::CompareTo {
                alias: "champion".into(),
                min_delta: 0.002
            }
        );
        let promote = p.promote.unwrap();
        assert_eq!(
            (promote.name.as_str(), promote.alias.as_deref()),
            ("churn", Some("champion"))
        );
        assert!(
            matches!(&p.triggers[0].spec.kind, TriggerKind::Cron { cron, .. } if cron == "0 3 * * *")
        );
        assert!(matches!(
            &p.triggers[1].spec.kind,
            TriggerKind::Alert { .. }
        ));
        let bad = "stages:\n  t:\n    cmd: x\ntriggers:\n  n: {cron: '0 3 * * *', debounce: 1m}\n";
        assert!(
            error(bad, &[]).starts_with("cairn.yaml:5:6: trigger 'n': unknown key `debounce`"),
            "{}",
            error(bad, &[])
        );
        let bad = "stages:\n  t:\n    cmd: x\n    outs: [m]\ngates:\n  - metric: a\n    op: '=>'\n    value: 1\n";
        assert!(
            error(bad, &[]).starts_with("cairn.yaml:7:9: op '=>'"),
            "{}",
            error(bad, &[])
        );
        let bad = "stages:\n  t:\n    cmd: x\npromote:\n  model: nope\n  name: n\n";
        assert!(
            error(bad, &[]).starts_with("cairn.yaml:5:10: promote: model 'nope' is not an out")
        );
        let bad = "stages:\n  t:\n    cmd: x\n    outs: [m]\npromote:\n  model: m\n  name: n\n  alias: c\n  candidate_alias: c\n";
        assert_eq!(
            error(bad, &[]),
            "cairn.yaml:9:20: candidate_alias 'c' must differ from alias 'c'"
        );
        let confident = |gate: &str| {
            format!(
                "stages:\n  t:\n    cmd: x\n    outs: [m, s.json]\ngates:\n  - metric: a\n{gate}promote:\n  model: m\n  name: n\n"
            )
        };
        let ok = confident(
            "    compare_to: c\n    confidence: 0.9\n    per_example: s.json\n    dataset: d.csv\n",
        );
        let (_dir, p) = crate::testutil::project(&[("cairn.yaml", &ok)]);
        let c = p.unwrap().pipeline.gates[0].confidence.clone().unwrap();
        assert_eq!((c.level, c.dataset.path.as_str()), (0.9, "d.csv"));
        assert!(matches!(&c.scoring, crate::spec::Scoring::PerExample(p) if p.path == "s.json"));
        let onnx =
            confident("    compare_to: c\n    confidence: 0.9\n    label: y\n    dataset: d.csv\n");
        let (_dir, p) = crate::testutil::project(&[("cairn.yaml", &onnx)]);
        let c = p.unwrap().pipeline.gates[0].confidence.clone().unwrap();
        assert_eq!(c.scoring, crate::spec::Scoring::Onnx { label: "y".into() });
        for (gate, want) in [
            (
                "    op: '>='\n    value: 1\n    confidence: 0.9\n",
                "cairn.yaml:9:17: confidence goes with compare_to",
            ),
            (
                "    compare_to: c\n    confidence: 1.5\n    per_example: s.json\n    dataset: d\n",
                "cairn.yaml:8:17: confidence must be between 0 and 1",
            ),
            (
                "    compare_to: c\n    confidence: 0.9\n    dataset: d\n",
                "cairn.yaml:6:5: confidence needs `per_example:`",
            ),
            (
                "    compare_to: c\n    confidence: 0.9\n    per_example: s.json\n    label: y\n    dataset: d\n",
                "cairn.yaml:10:12: a confidence gate takes per_example",
            ),
            (
                "    compare_to: c\n    confidence: 0.9\n    per_example: nope.json\n    dataset: d\n",
                "cairn.yaml:9:18: per_example 'nope.json' is not an out",
            ),
            (
                "    compare_to: c\n    per_example: s.json\n",
                "cairn.yaml:8:18: per_example goes with confidence",
            ),
        ] {
            let got = error(&confident(gate), &[]);
            assert!(got.starts_with(want), "{got}");
        }
    }
}
