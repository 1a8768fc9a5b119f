//! Run search in the store (`search_run_ids`): every page it answers must be the page the domain's
//! matcher and comparator give over the same runs, on targeted filters and orders and on random ones,
//! through keyset pages and offset pages alike.

use cairn_domain::search::{Keyset, RunFilter, RunOrder};
use cairn_domain::{
    Dataset, DatasetInput, ExperimentId, LifecycleStage, RunId, RunStatus, Tag, ViewType,
};
use cairn_store::{NewRun, RunQuery, RunUpdate};

use crate::fixtures::{Store, T0, experiment, param, point, tag};

/// A small deterministic generator (xorshift64*), so that a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NUMBERS: &[f64] = &[
    0.0,
    -0.0,
    0.5,
    0.5,
    1.0,
    -2.5,
    1e-9,
    3.25,
    f64::MAX,
    -f64::MAX,
    f64::NAN,
    100.0,
];
const STRINGS: &[&str] = &[
    "a", "A", "ab", "aB", "b", "a_b", "axb", "50%", "", "é", "É", "x'y", "[a]*?", "日本",
];
const NAMES: &[&str] = &["alpha", "Alpha", "beta", "b_t", "50%off", "ünï"];
const STATUSES: &[RunStatus] = &[
    RunStatus::Running,
    RunStatus::Finished,
    RunStatus::Failed,
    RunStatus::Killed,
];

/// Creates `n` runs with random attributes, metrics, params, tags and datasets; some deleted.
async fn populate(store: &Store, exp: ExperimentId, rng: &mut Rng, n: usize) {
    for i in 0..n {
        let id = RunId::generate();
        store
            .create_run(NewRun {
                run_id: id.clone(),
                experiment_id: exp,
                run_name: rng.pick(NAMES).to_string(),
                user_id: rng.pick(&["ann", "bob", "Ann"]).to_string(),
                start_time: T0 + rng.below(6) as i64,
                tags: Vec::new(),
            })
            .await
            .expect("create_run");
        if rng.chance(60) {
            let end = rng.chance(80).then(|| T0 + 10 + rng.below(4) as i64);
            store
                .update_run(
                    &id,
                    RunUpdate {
                        status: Some(*rng.pick(STATUSES)),
                        end_time: end,
                        run_name: None,
                    },
                )
                .await
                .expect("update_run");
        }
        let mut metrics = Vec::new();
        for key in ["m", "n", "with space"] {
            if rng.chance(75) {
                for step in 0..1 + rng.below(3) {
                    metrics.push(point(key, *rng.pick(NUMBERS), step as i64, T0));
                }
            }
        }
        let mut params = Vec::new();
        let mut tags = Vec::new();
        for key in ["p", "q"] {
            if rng.chance(70) {
                params.push(param(key, rng.pick::<&str>(STRINGS)));
            }
            if rng.chance(70) {
                tags.push(tag(key, rng.pick::<&str>(STRINGS)));
            }
        }
        store
            .log_batch(&id, metrics, params, tags)
            .await
            .expect("log_batch");
        if rng.chance(30) {
            let mut input_tags = Vec::new();
            if rng.chance(70) {
                input_tags.push(Tag {
                    key: DatasetInput::CONTEXT_TAG.to_string(),
                    value: rng.pick(&["training", "Training", "eval"]).to_string(),
                });
            }
            let input = DatasetInput {
                tags: input_tags,
                dataset: Dataset {
                    name: rng.pick(&["train", "Train", "eval"]).to_string(),
                    digest: rng.pick(&["abc", "ffe"]).to_string(),
                    source_type: "local".to_string(),
                    source: "{}".to_string(),
                    schema: None,
                    profile: None,
                },
            };
            store
                .log_inputs(&id, vec![input], Vec::new())
                .await
                .expect("log_inputs");
        }
        if i % 7 == 3 {
            store
                .set_run_lifecycle(&id, LifecycleStage::Deleted, T0)
                .await
                .expect("delete run");
        }
    }
}

/// The ids the domain's matcher and order give, over every run of the experiment the view admits.
async fn expected(
    store: &Store,
    exp: ExperimentId,
    view: ViewType,
    f: &RunFilter,
    o: &RunOrder,
) -> Vec<RunId> {
    let mut runs: Vec<_> = store
        .list_runs(&[exp], view)
        .await
        .expect("list_runs")
        .into_iter()
        .filter(|r| f.matches(r))
        .collect();
    runs.sort_by(|a, b| o.compare(a, b));
    runs.into_iter().map(|r| r.info.run_id).collect()
}

/// One search, as the checks run it.
struct Case<'a> {
    store: &'a Store,
    exp: ExperimentId,
    view: ViewType,
    f: &'a RunFilter,
    o: &'a RunOrder,
    label: String,
}

/// Every page of the store's search, by keyset from the first page on, and by offset from `offset`.
async fn pages(c: &Case<'_>, limit: usize, offset: usize) -> Vec<RunId> {
    let (store, exp, view, f, o, label) = (c.store, c.exp, c.view, c.f, c.o, &c.label);
    let mut ids = Vec::new();
    let mut after: Option<Keyset> = None;
    let mut first = true;
    loop {
        let q = RunQuery {
            experiments: &[exp],
            view,
            filter: f,
            order: o,
            after: after.as_ref(),
            offset: if first { offset } else { offset + ids.len() },
            limit,
        };
        let page = store
            .search_run_ids(q)
            .await
            .expect("search_run_ids")
            .unwrap_or_else(|| panic!("{label}: the store fell back"));
        assert!(page.ids.len() <= limit, "{label}: page too long");
        ids.extend(page.ids);
        first = false;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(ids.len() < 10_000, "{label}: pages never end");
    }
    ids
}

async fn check(store: &Store, exp: ExperimentId, filter: &str, order_by: &[&str]) {
    let f = RunFilter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let order_by: Vec<String> = order_by.iter().map(|s| s.to_string()).collect();
    let o = RunOrder::parse(&order_by).unwrap_or_else(|e| panic!("{order_by:?}: {e}"));
    for view in [ViewType::ActiveOnly, ViewType::DeletedOnly, ViewType::All] {
        let want = expected(store, exp, view, &f, &o).await;
        let label = format!("filter {filter:?} order {order_by:?} view {view:?}");
        let c = Case {
            store,
            exp,
            view,
            f: &f,
            o: &o,
            label,
        };
        for limit in [1000, 7] {
            let got = pages(&c, limit, 0).await;
            assert_eq!(got, want, "{}, {limit} a page", c.label);
        }
        let skip = want.len().min(5);
        let got = pages(&c, 4, skip).await;
        assert_eq!(got, want[skip..], "{}, from offset {skip}", c.label);
    }
}

const TARGETED_FILTERS: &[&str] = &[
    "",
    "metrics.m > 0.5",
    "metrics.m >= 0",
    "metrics.m = 0",
    "metrics.m != 0.5",
    "metrics.m < -1",
    "metrics.m <= 1e308",
    "metrics.`with space` > -1e400",
    "metrics.n != 1e400",
    "params.p = 'a'",
    "params.p != 'a'",
    "params.p LIKE 'a%'",
    "params.p LIKE 'a_b'",
    "params.p ILIKE 'A%'",
    "params.p ILIKE 'é'",
    "params.p LIKE '[a]*?'",
    "params.p LIKE '%'",
    "params.p = ''",
    "params.p IS NULL",
    "params.q IS NOT NULL",
    "tags.p LIKE '50%'",
    "tags.q ILIKE '%B'",
    "tags.q = 'x''y'",
    r#"tags.q = "x'y""#,
    "attributes.status = 'FINISHED'",
    "status != 'RUNNING'",
    "run_name LIKE 'b_t'",
    "attributes.`Run Name` ILIKE 'ALPHA'",
    "user_id = 'Ann'",
    "run_id NOT IN ('00000000000000000000000000000000')",
    "start_time > 1700000000000002",
    "start_time >= 1700000000000002",
    "start_time > 1700000000000002.5",
    "attributes.created != 1700000000000003",
    "end_time < 1700000000000012",
    "end_time != 1",
    "dataset.name = 'train'",
    "dataset.name IN ('Train', 'eval')",
    "dataset.digest NOT IN ('abc')",
    "dataset.context ILIKE 'TRAIN%'",
    "dataset.context != 'eval'",
    "metrics.m > 0 AND params.p LIKE '%a%' AND tags.q IS NOT NULL",
];

const TARGETED_ORDERS: &[&[&str]] = &[
    &[],
    &["metrics.m"],
    &["metrics.m DESC"],
    &["metrics.`with space` DESC", "params.p"],
    &["params.p DESC"],
    &["tags.q", "metrics.n DESC"],
    &["start_time ASC"],
    &["end_time DESC"],
    &["attributes.run_name", "user_id DESC"],
    &["status", "metrics.m"],
    &["run_id DESC"],
    &["created"],
];

/// Targeted filters and orders: every comparator, NaN and ±MAX metrics, missing keys, LIKE wildcards and
/// GLOB's specials, case rules, non-ASCII text, datasets, views; keyset and offset pages.
pub async fn search_in_store_matches_domain(store: Store) {
    let (exp, _) = experiment(&store, "search-sql").await;
    let mut rng = Rng(0x5eed_0001);
    populate(&store, exp, &mut rng, 70).await;
    for filter in TARGETED_FILTERS {
        check(&store, exp, filter, &["metrics.m DESC"]).await;
    }
    for order in TARGETED_ORDERS {
        check(&store, exp, "", order).await;
        check(&store, exp, "params.p != 'b'", order).await;
    }
}

/// Random conjunctions of clauses and random orders over random runs.
pub async fn search_in_store_matches_domain_randomized(store: Store) {
    let (exp, _) = experiment(&store, "search-sql-rand").await;
    let mut rng = Rng(0x5eed_0002);
    populate(&store, exp, &mut rng, 90).await;
    let clauses: Vec<&str> = TARGETED_FILTERS
        .iter()
        .copied()
        .filter(|f| !f.is_empty() && !f.contains(" AND "))
        .collect();
    let keys = [
        "metrics.m",
        "metrics.n",
        "metrics.`with space`",
        "params.p",
        "params.q",
        "tags.p",
        "tags.q",
        "start_time",
        "end_time",
        "run_name",
        "status",
        "user_id",
    ];
    for _ in 0..40 {
        let picked: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(&clauses)).collect();
        let filter = picked.join(" AND ");
        let mut order: Vec<String> = Vec::new();
        for _ in 0..rng.below(4) {
            let key = *rng.pick(&keys);
            if !order.iter().any(|o| o.starts_with(&format!("{key} "))) {
                let dir = if rng.chance(50) { "ASC" } else { "DESC" };
                order.push(format!("{key} {dir}"));
            }
        }
        let order: Vec<&str> = order.iter().map(String::as_str).collect();
        check(&store, exp, &filter, &order).await;
    }
}
