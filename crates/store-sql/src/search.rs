//! Run search in SQL: one page of run ids, filtered, ordered and paged by the database
//! ([`search_run_ids`]), with the statements [`search_sql`](crate::search_sql) compiles.
//!
//! A page is read segment by segment of the first sort key (present values, then NaNs, then missing
//! ones), each a query ordered by columns an index can serve, until the page is full; the next page
//! starts after the last row's sort values (a keyset), so a deep page costs what the first does. An
//! offset token (MLflow's, or one written by the in-memory search) is honoured with one query over every
//! segment and `OFFSET`.

use cairn_domain::RunId;
use cairn_domain::search::{KeyValue, Keyset};
use cairn_store::{RunIdPage, RunQuery, StoreError, StoreResult};

use crate::Tx;
use crate::search_sql::{
    Col, Dialect, Kind, Sql, after, compile_filter, compile_order, order_by, scope,
};

/// Which rows one statement reads.
enum Part<'a> {
    /// One segment of the first key, after a keyset within it.
    Segment(usize, Option<&'a [KeyValue]>),
    /// Every segment, after skipping rows.
    Whole(usize),
}

/// One row read: its id, its segment, and its sort values as that segment's keyset holds them.
struct Hit {
    id: String,
    segment: u8,
    values: Vec<KeyValue>,
}

/// The page `q` asks for, or `None` when this query (or its keyset) cannot be answered in SQL with the
/// domain's semantics.
pub(crate) async fn search_run_ids(
    tx: &mut dyn Tx,
    d: Dialect,
    q: RunQuery<'_>,
) -> StoreResult<Option<RunIdPage>> {
    if q.experiments.is_empty() || q.limit == 0 {
        return Ok(Some(RunIdPage {
            ids: Vec::new(),
            next: None,
        }));
    }
    let want = q.limit + 1;
    let mut hits: Vec<Hit> = Vec::with_capacity(want);
    match q.after {
        None if q.offset > 0 => {
            let Some(mut got) = read(tx, d, &q, Part::Whole(q.offset), want).await? else {
                return Ok(None);
            };
            hits.append(&mut got);
        }
        keyset => {
            let (start, values) = match keyset {
                Some(k) => (usize::from(k.segment), Some(k.after.as_slice())),
                None => (0, None),
            };
            let mut segment = start;
            loop {
                let after = values.filter(|_| segment == start);
                let part = Part::Segment(segment, after);
                let Some(mut got) = read(tx, d, &q, part, want - hits.len()).await? else {
                    return Ok(None);
                };
                hits.append(&mut got);
                segment += 1;
                if hits.len() >= want || !has_segment(&q, d, segment) {
                    break;
                }
            }
        }
    }
    let more = hits.len() > q.limit;
    hits.truncate(q.limit);
    let next = more.then(|| hits.last()).flatten().map(|h| Keyset {
        segment: h.segment,
        after: h.values.clone(),
    });
    let ids = hits
        .into_iter()
        .map(|h| RunId::parse(&h.id).map_err(|e| StoreError::Internal(e.to_string())))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(RunIdPage { ids, next }))
}

fn has_segment(q: &RunQuery<'_>, d: Dialect, segment: usize) -> bool {
    compile_order(q.order, d, &mut Sql::default()).is_some_and(|p| segment < p.first.segments.len())
}

/// Runs one statement; `None` when it cannot be written.
async fn read(
    tx: &mut dyn Tx,
    d: Dialect,
    q: &RunQuery<'_>,
    part: Part<'_>,
    limit: usize,
) -> StoreResult<Option<Vec<Hit>>> {
    let mut sql = Sql::default();
    let Some(plan) = compile_order(q.order, d, &mut sql) else {
        return Ok(None);
    };
    let Some(filter) = compile_filter(q.filter, d, &mut sql) else {
        return Ok(None);
    };
    let mut from = "runs r".to_owned();
    let mut joins = String::new();
    let mut condition = String::new();
    let rank_col = plan.first.rank.clone().map(|expr| Col {
        expr,
        ascending: true,
        kind: Kind::Int,
    });
    let (segment, cols) = match &part {
        Part::Segment(s, _) => {
            let Some(cond) = plan.first.segments.get(*s) else {
                return Ok(None);
            };
            let mut cols: Vec<&Col> = Vec::new();
            match &plan.first.join {
                // Segment 0 holds the runs that have the key: an inner join, which can drive the
                // search from the key's `(key, value)` index in value order and stop at the page's
                // end. SQLite's planner would rather scan the experiment's runs and sort them all;
                // its CROSS JOIN fixes the join order.
                Some(j) if *s == 0 && j.by_value && d == Dialect::Sqlite => {
                    from = format!("{} CROSS JOIN runs r", j.table);
                    condition = format!(" AND {}", j.on);
                }
                Some(j) if *s == 0 => joins.push_str(&format!(" JOIN {} ON {}", j.table, j.on)),
                Some(j) => joins.push_str(&j.left()),
                None => {}
            }
            if *s == 0 {
                cols.push(&plan.first.raw);
            }
            cols.extend(plan.rest.iter());
            condition.push_str(&format!(" AND {cond}"));
            (Some(*s), cols)
        }
        Part::Whole(_) => {
            if let Some(j) = &plan.first.join {
                joins.push_str(&j.left());
            }
            let mut cols: Vec<&Col> = rank_col.iter().collect();
            cols.push(&plan.first.value);
            cols.extend(plan.rest.iter());
            (None, cols)
        }
    };
    for join in &plan.joins {
        joins.push_str(join);
    }
    let mut keyset = String::new();
    if let Part::Segment(_, Some(values)) = &part {
        match after(&cols, values, &mut sql) {
            Some(cond) => keyset = format!(" AND {cond}"),
            None => return Ok(None),
        }
    }
    let select: String = cols.iter().map(|c| format!(", {}", c.expr)).collect();
    let mut text = format!(
        "SELECT r.run_id{select} FROM {from}{joins} WHERE {}{condition} AND {filter}{keyset} \
         ORDER BY {} LIMIT {}",
        scope(q.experiments, q.view),
        order_by(&cols),
        sql.bind(i64::try_from(limit).unwrap_or(i64::MAX)),
    );
    if let Part::Whole(offset) = part {
        let offset = sql.bind(i64::try_from(offset).unwrap_or(i64::MAX));
        text.push_str(&format!(" OFFSET {offset}"));
    }
    if sql.too_many() {
        return Ok(None);
    }
    let rows = tx.query(&text, sql.args).await?;
    let mut hits = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.text(0)?;
        let mut values = Vec::with_capacity(cols.len());
        for (i, col) in cols.iter().enumerate() {
            let v = row.0.get(i + 1).and_then(|v| col.kind.read(v));
            values.push(v.ok_or_else(|| {
                StoreError::Internal(format!("search sort column {i}: {:?}", row.0.get(i + 1)))
            })?);
        }
        let (segment, values) = match segment {
            Some(s) => (s, values),
            None if rank_col.is_none() => (0, values),
            None => {
                // [rank, value, rest…]: the rank is the segment; segment 0's keyset keeps the value.
                let rank = match values.first() {
                    Some(KeyValue::Int(r)) => *r,
                    _ => 0,
                };
                let skip = if rank == 0 { 1 } else { 2 };
                (rank as usize, values.into_iter().skip(skip).collect())
            }
        };
        hits.push(Hit {
            id,
            segment: u8::try_from(segment).unwrap_or(u8::MAX),
            values,
        });
    }
    Ok(Some(hits))
}
