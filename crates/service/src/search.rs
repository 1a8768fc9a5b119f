//! Run search, and the offset pagination every search shares.
//!
//! A run search goes to the store first ([`cairn_store::TrackingStore::search_run_ids`]: SQL stores filter, sort and
//! page in the database, with keyset page tokens); a store that cannot answer a query with the domain's
//! semantics says so, and the search then filters and sorts the candidates here, on the domain's grammar.

use cairn_domain::search::{PageToken, RunFields, RunFilter, RunOrder, RunPageToken};
use cairn_domain::validation::{
    DEFAULT_MAX_RESULTS_SEARCH_RUNS, MAX_RESULTS_SEARCH_RUNS, validate_max_results,
};
use cairn_domain::{ExperimentId, Run, ViewType};
use cairn_store::RunQuery;

use crate::experiments::parse_experiment_id;
use crate::{ServiceError, ServiceResult, Tracking};

/// One page of results and the token for the next, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// A search over runs.
#[derive(Debug, Clone, Default)]
pub struct RunSearch {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub view: ViewType,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

impl Tracking {
    /// Runs of the given experiments that pass the filter, in the requested order, one page at a time:
    /// by the store when it can, else here (candidates loaded with only what the filter and order read).
    /// Only the page is loaded whole.
    pub async fn search_runs(&self, q: RunSearch) -> ServiceResult<Page<Run>> {
        let max = q.max_results.unwrap_or(DEFAULT_MAX_RESULTS_SEARCH_RUNS);
        validate_max_results(max, MAX_RESULTS_SEARCH_RUNS)?;
        let filter = RunFilter::parse(&q.filter)?;
        let order = RunOrder::parse(&q.order_by)?;
        let ids = q
            .experiment_ids
            .iter()
            .map(|id| parse_experiment_id(id))
            .collect::<ServiceResult<Vec<ExperimentId>>>()?;
        let token = match q.page_token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => RunPageToken::decode(t)?,
            None => RunPageToken::default(),
        };
        let limit = usize::try_from(max)
            .map_err(|_| ServiceError::InvalidArgument("bad max_results".into()))?;
        let query = RunQuery {
            experiments: &ids,
            view: q.view,
            filter: &filter,
            order: &order,
            after: token.keyset.as_ref(),
            offset: token.offset,
            limit,
        };
        if let Some(page) = self.store.search_run_ids(query).await? {
            let offset = token.offset + page.ids.len();
            let next_page_token = page.next.map(|keyset| {
                RunPageToken {
                    offset,
                    keyset: Some(keyset),
                }
                .encode()
            });
            return Ok(Page {
                items: self.store.get_runs(&page.ids).await?,
                next_page_token,
            });
        }
        let fields = RunFields::of(&filter, &order);
        let mut runs: Vec<Run> = self
            .store
            .list_runs_for_search(&ids, q.view, &fields)
            .await?
            .into_iter()
            .filter(|r| filter.matches(r))
            .collect();
        runs.sort_by(|a, b| order.compare(a, b));
        let page = paginate(runs, max, q.page_token.as_deref())?;
        let ids: Vec<_> = page.items.iter().map(|r| r.info.run_id.clone()).collect();
        Ok(Page {
            items: self.store.get_runs(&ids).await?,
            next_page_token: page.next_page_token,
        })
    }
}

/// Cuts one page out of a fully ordered result.
pub(crate) fn paginate<T>(items: Vec<T>, max: i64, token: Option<&str>) -> ServiceResult<Page<T>> {
    let offset = match token.filter(|t| !t.is_empty()) {
        Some(t) => PageToken::decode(t)?.offset,
        None => 0,
    };
    let max = usize::try_from(max)
        .map_err(|_| ServiceError::InvalidArgument("bad max_results".into()))?;
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next = offset + items.len();
    let next_page_token =
        (next < total && !items.is_empty()).then(|| PageToken { offset: next }.encode());
    Ok(Page {
        items,
        next_page_token,
    })
}
