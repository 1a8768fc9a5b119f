//! A run's inputs (datasets with their tags, models) and outputs (models), loaded for many runs at once.

use std::collections::HashMap;

use cairn_domain::{Dataset, DatasetInput, ModelInput, ModelOutput, Run, Tag};

use crate::{Columns, Fetch, RunScope};

/// Fills the inputs and outputs of `runs` (whose positions `index` maps from run id); `sub` selects the
/// ids of the runs in `scope`.
pub(crate) async fn load_inputs<F: Fetch>(
    f: &mut F,
    scope: &RunScope<'_>,
    sub: &str,
    runs: &mut [Run],
    index: &HashMap<String, usize>,
) -> Result<(), F::Error> {
    // (run, dataset) -> position in that run's dataset_inputs
    let mut inputs: HashMap<(String, i64), usize> = HashMap::new();
    for row in scope
        .fetch(
            f,
            format!(
                "SELECT i.run_id, d.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, \
                 d.profile FROM run_dataset_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id \
                 WHERE i.run_id IN ({sub}) ORDER BY d.dataset_id"
            ),
        )
        .await?
    {
        let run_id = row.text(0);
        if let Some(&i) = index.get(&run_id) {
            let list = &mut runs[i].inputs.dataset_inputs;
            inputs.insert((run_id, row.int(1)), list.len());
            list.push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.text(2),
                    digest: row.text(3),
                    source_type: row.text(4),
                    source: row.text(5),
                    schema: row.opt_text(6),
                    profile: row.opt_text(7),
                },
            });
        }
    }
    if !inputs.is_empty() {
        for row in scope
            .fetch(
                f,
                format!(
                    "SELECT run_id, dataset_id, key, value FROM run_dataset_input_tags \
                     WHERE run_id IN ({sub}) ORDER BY key"
                ),
            )
            .await?
        {
            let run_id = row.text(0);
            if let (Some(&i), Some(&j)) = (
                index.get(&run_id),
                inputs.get(&(run_id.clone(), row.int(1))),
            ) {
                runs[i].inputs.dataset_inputs[j].tags.push(Tag {
                    key: row.text(2),
                    value: row.text(3),
                });
            }
        }
    }
    // Model links have no key to sort by; see `Fetch::EXPLICIT_ORDER`.
    let order = if F::EXPLICIT_ORDER {
        " ORDER BY model_id"
    } else {
        ""
    };
    for row in scope
        .fetch(
            f,
            format!("SELECT run_id, model_id FROM run_model_inputs WHERE run_id IN ({sub}){order}"),
        )
        .await?
    {
        if let Some(&i) = index.get(row.str(0)) {
            runs[i].inputs.model_inputs.push(ModelInput {
                model_id: row.text(1),
            });
        }
    }
    for row in scope
        .fetch(
            f,
            format!(
                "SELECT run_id, model_id, step FROM run_model_outputs WHERE run_id IN ({sub}){order}"
            ),
        )
        .await?
    {
        if let Some(&i) = index.get(row.str(0)) {
            runs[i].outputs.model_outputs.push(ModelOutput {
                model_id: row.text(1),
                step: row.int(2),
            });
        }
    }
    Ok(())
}
