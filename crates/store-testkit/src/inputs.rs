//! Run inputs and outputs: datasets (shared per experiment, with per-run tags) and logged models.

use cairn_domain::{Dataset, DatasetInput, ModelInput, ModelOutput};

use crate::fixtures::{Store, experiment, run, tag};

const CONTEXT: &str = "mlflow.data.context";

fn dataset(name: &str, digest: &str, source: &str) -> Dataset {
    Dataset {
        name: name.to_string(),
        digest: digest.to_string(),
        source_type: "local".to_string(),
        source: source.to_string(),
        schema: Some("{\"cols\": 2}".to_string()),
        profile: Some("{\"rows\": 3}".to_string()),
    }
}

/// The same dataset logged twice is one dataset keeping its first description; the tags of its use are
/// per run and overwritable; datasets are listed in the order they were first logged.
pub async fn dataset_inputs(store: Store) {
    let (exp, _) = experiment(&store, "datasets").await;
    let r1 = run(&store, exp, "r1").await.info.run_id;
    let r2 = run(&store, exp, "r2").await.info.run_id;
    let train = dataset("train", "d1", "file:///a");

    store
        .log_inputs(
            &r1,
            vec![DatasetInput {
                tags: vec![tag(CONTEXT, "training")],
                dataset: train.clone(),
            }],
            vec![],
        )
        .await
        .expect("log");
    store
        .log_inputs(
            &r1,
            vec![DatasetInput {
                tags: vec![tag(CONTEXT, "training")],
                dataset: dataset("train", "d1", "file:///elsewhere"),
            }],
            vec![],
        )
        .await
        .expect("log again");
    let got = store.get_run(&r1).await.expect("get");
    assert_eq!(
        got.inputs.dataset_inputs,
        vec![DatasetInput {
            tags: vec![tag(CONTEXT, "training")],
            dataset: train.clone(),
        }]
    );
    assert_eq!(got.inputs.dataset_inputs[0].context(), Some("training"));

    store
        .log_inputs(
            &r1,
            vec![DatasetInput {
                tags: vec![tag(CONTEXT, "eval"), tag("extra", "1")],
                dataset: train.clone(),
            }],
            vec![],
        )
        .await
        .expect("retag");
    // Two new datasets in one call, deliberately not in name order.
    let zeta = dataset("zeta", "d9", "file:///z");
    let alpha = dataset("alpha", "d0", "file:///al");
    store
        .log_inputs(
            &r1,
            vec![
                DatasetInput {
                    tags: vec![],
                    dataset: zeta.clone(),
                },
                DatasetInput {
                    tags: vec![],
                    dataset: alpha.clone(),
                },
            ],
            vec![],
        )
        .await
        .expect("two more");
    let r1_inputs = vec![
        DatasetInput {
            tags: vec![tag("extra", "1"), tag(CONTEXT, "eval")],
            dataset: train.clone(),
        },
        DatasetInput {
            tags: vec![],
            dataset: zeta,
        },
        DatasetInput {
            tags: vec![],
            dataset: alpha,
        },
    ];
    assert_eq!(
        store.get_run(&r1).await.expect("get").inputs.dataset_inputs,
        r1_inputs
    );

    store
        .log_inputs(
            &r2,
            vec![DatasetInput {
                tags: vec![tag(CONTEXT, "test")],
                dataset: dataset("train", "d1", "file:///r2-view"),
            }],
            vec![],
        )
        .await
        .expect("r2");
    assert_eq!(
        store.get_run(&r2).await.expect("get").inputs.dataset_inputs,
        vec![DatasetInput {
            tags: vec![tag(CONTEXT, "test")],
            dataset: train,
        }]
    );
    store
        .log_inputs(&r1, vec![], vec![])
        .await
        .expect("empty inputs");
    assert_eq!(
        store.get_run(&r1).await.expect("get").inputs.dataset_inputs,
        r1_inputs
    );
}

/// Model inputs are a set; a model output's step is replaced by a later log.
pub async fn model_inputs_outputs(store: Store) {
    let (exp, _) = experiment(&store, "models-io").await;
    let id = run(&store, exp, "r").await.info.run_id;
    let input = |m: &str| ModelInput {
        model_id: m.to_string(),
    };
    let output = |m: &str, step| ModelOutput {
        model_id: m.to_string(),
        step,
    };
    store
        .log_inputs(&id, vec![], vec![input("m-b"), input("m-a")])
        .await
        .expect("inputs");
    store
        .log_inputs(&id, vec![], vec![input("m-a")])
        .await
        .expect("inputs again");
    store
        .log_outputs(&id, vec![output("m-a", 3)])
        .await
        .expect("outputs");
    store
        .log_outputs(&id, vec![output("m-a", 7), output("m-c", 1)])
        .await
        .expect("outputs again");
    store.log_outputs(&id, vec![]).await.expect("no outputs");
    let got = store.get_run(&id).await.expect("get");
    let mut inputs = got.inputs.model_inputs.clone();
    inputs.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    assert_eq!(inputs, vec![input("m-a"), input("m-b")]);
    let mut outputs = got.outputs.model_outputs.clone();
    outputs.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    assert_eq!(outputs, vec![output("m-a", 7), output("m-c", 1)]);
    assert_eq!(got.inputs.dataset_inputs, vec![]);
}
