//! A loaded model: its signature, and worker threads that each own one session and take jobs from one queue.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread;

use ort::session::{Session, SessionInputValue};
use tokio::sync::{mpsc, oneshot};

use crate::tensor::{self, DimNames};
use crate::{EngineError, Runtime, Signature, Tensor, convert};

/// Queued jobs allowed per worker before `infer` waits for room: bounds memory under overload.
const QUEUE_PER_WORKER: usize = 64;

/// How a model is run; one value per deployment, so a server can take it straight from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOptions {
    /// Sessions, each on its own thread, that run requests in parallel (0 is taken as 1).
    pub workers: usize,
    /// ONNX Runtime threads inside one run; 1 serves single rows best, 0 lets ONNX Runtime use every core.
    pub intra_threads: usize,
}

impl Default for ModelOptions {
    /// One worker with one thread: the measured best for single-row serving on a small machine.
    fn default() -> Self {
        Self {
            workers: 1,
            intra_threads: 1,
        }
    }
}

/// A model ready to serve. Cheap to clone (clones share the workers); the workers stop once the last clone
/// is dropped and the jobs already queued are done.
#[derive(Clone)]
pub struct Model {
    signature: Arc<Signature>,
    dim_names: Arc<DimNames>,
    jobs: mpsc::Sender<Job>,
}

struct Job {
    inputs: Vec<Tensor>,
    /// The inputs (lent to the run, not consumed) and the outputs.
    reply: oneshot::Sender<Result<Ran, EngineError>>,
}

/// A run's validated inputs, in the model's order, and its outputs.
type Ran = (Vec<Tensor>, Vec<Tensor>);

impl Model {
    /// Loads `onnx_bytes` into one session per worker and starts the workers. This blocks for as long as
    /// ONNX Runtime takes to optimise the graph, times the workers: call it from `spawn_blocking` in async code.
    pub fn load(
        runtime: &Runtime,
        onnx_bytes: &[u8],
        opts: ModelOptions,
    ) -> Result<Model, EngineError> {
        let workers = opts.workers.max(1);
        let first = session(runtime, onnx_bytes, opts.intra_threads)?;
        let (signature, dim_names) = convert::signature(&first)?; // refuse before building the others
        let (signature, dim_names) = (Arc::new(signature), Arc::new(dim_names));
        let mut sessions = vec![first];
        for _ in 1..workers {
            sessions.push(session(runtime, onnx_bytes, opts.intra_threads)?);
        }
        let (sender, receiver) = mpsc::channel(QUEUE_PER_WORKER * workers);
        let receiver = Arc::new(Mutex::new(receiver));
        for (index, session) in sessions.into_iter().enumerate() {
            let (receiver, signature) = (receiver.clone(), signature.clone());
            thread::Builder::new()
                .name(format!("cairn-onnx-{index}"))
                .spawn(move || work(session, &signature, &receiver))
                .map_err(|e| {
                    EngineError::Internal(format!("cannot start an inference thread: {e}"))
                })?;
        }
        tracing::debug!(workers, intra_threads = opts.intra_threads, "model loaded");
        Ok(Model {
            signature,
            dim_names,
            jobs: sender,
        })
    }

    /// The model's inputs and outputs, to describe it (OIP model metadata) and to shape requests.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Runs one request on a worker thread, never on the caller's: validates `inputs` against the signature
    /// (any order; each model input exactly once, element types exactly as declared, no casts), then returns
    /// every model output in the model's order. Inputs whose dynamic dimensions share a name in the model
    /// (e.g. `batch`) must agree on them. Dropping the future abandons a job that has not started.
    pub async fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, EngineError> {
        Ok(self.infer_keeping_inputs(inputs).await?.1)
    }

    /// [`Model::infer`], handing the inputs back (validated, in the model's order) with the outputs: the
    /// run only borrows numeric inputs, so a caller that keeps them (a logged request) copies nothing.
    pub async fn infer_keeping_inputs(
        &self,
        inputs: Vec<Tensor>,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>), EngineError> {
        let inputs = tensor::validate(&self.signature, &self.dim_names, inputs)?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { inputs, reply })
            .await
            .map_err(|_| workers_gone())?;
        answer.await.map_err(|_| workers_gone())?
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

fn session(
    runtime: &Runtime,
    onnx_bytes: &[u8],
    intra_threads: usize,
) -> Result<Session, EngineError> {
    Session::builder(runtime.environment())
        .map_err(internal)?
        .with_intra_threads(intra_threads)
        .map_err(internal)?
        .commit_from_memory(onnx_bytes)
        .map_err(|e| EngineError::InvalidModel(e.to_string()))
}

/// One worker: takes the next job from the shared queue, runs it on its own session, replies. The queue's
/// lock is held only while waiting for a job, so idle workers queue up behind it and busy ones do not block.
fn work(mut session: Session, signature: &Signature, jobs: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .blocking_recv();
        let Some(job) = job else { return };
        if job.reply.is_closed() {
            continue; // the caller has gone: do not spend a run on it
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            run(&mut session, signature, job.inputs)
        }))
        .unwrap_or_else(|_| {
            Err(EngineError::Internal(
                "inference panicked; see the log".into(),
            ))
        });
        let _ = job.reply.send(result);
    }
}

fn run(
    session: &mut Session,
    signature: &Signature,
    inputs: Vec<Tensor>,
) -> Result<Ran, EngineError> {
    let outputs = {
        let values: Vec<SessionInputValue<'_>> = inputs
            .iter()
            .map(convert::to_ort)
            .collect::<Result<_, _>>()?;
        // A slice binds values to the model's inputs by position: `validate` put them in that order.
        let outputs = session.run(values.as_slice()).map_err(|e| {
            EngineError::Internal(format!("ONNX Runtime failed to run the model: {e}"))
        })?;
        signature
            .outputs
            .iter()
            .enumerate()
            .map(|(index, spec)| convert::from_ort(spec, &outputs[index]))
            .collect::<Result<_, _>>()?
    };
    Ok((inputs, outputs))
}

fn internal<R>(e: ort::Error<R>) -> EngineError {
    EngineError::Internal(format!("cannot configure an ONNX Runtime session: {e}"))
}

fn workers_gone() -> EngineError {
    EngineError::Internal("the model's inference threads have stopped".into())
}
