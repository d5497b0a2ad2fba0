//! Group commit for the integration API: concurrent logins, logouts and heartbeats are
//! gathered while the previous batch commits and applied together, one transaction per
//! batch. Each request still gets its own answer (the ledger settles each request once, and
//! answers an error only for those it could not decide); heartbeats of a batch that fails are
//! retried one at a time, so one bad request cannot fail its neighbours.

use seatkeeper_store::{Ledger, LoginAnswer, LoginRequest};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, ApiResult};

enum Job {
    Login(LoginRequest, oneshot::Sender<ApiResult<LoginAnswer>>),
    Logout(String, oneshot::Sender<ApiResult<bool>>),
    Heartbeat(String, oneshot::Sender<ApiResult<bool>>),
}

#[derive(Clone)]
pub struct Gate {
    jobs: mpsc::Sender<Job>,
}

impl Gate {
    /// Starts the batching task. `batch_max` bounds how many requests share a transaction.
    pub fn start(ledger: Ledger, batch_max: usize) -> Gate {
        let (tx, rx) = mpsc::channel(batch_max.max(1) * 8);
        tokio::spawn(run(ledger, rx, batch_max.max(1)));
        Gate { jobs: tx }
    }

    pub async fn login(&self, req: LoginRequest) -> ApiResult<LoginAnswer> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Login(req, tx)).await?;
        rx.await.map_err(|_| stopped())?
    }

    pub async fn logout(&self, session: String) -> ApiResult<bool> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Logout(session, tx)).await?;
        rx.await.map_err(|_| stopped())?
    }

    pub async fn heartbeat(&self, session: String) -> ApiResult<bool> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Heartbeat(session, tx)).await?;
        rx.await.map_err(|_| stopped())?
    }

    async fn send(&self, job: Job) -> ApiResult<()> {
        self.jobs.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> ApiError {
    ApiError::unavailable("the server is shutting down")
}

async fn run(ledger: Ledger, mut rx: mpsc::Receiver<Job>, batch_max: usize) {
    let mut batch = Vec::with_capacity(batch_max);
    while rx.recv_many(&mut batch, batch_max).await > 0 {
        let mut logins = Vec::new();
        let mut logouts = Vec::new();
        let mut beats = Vec::new();
        for job in batch.drain(..) {
            match job {
                Job::Login(r, t) => logins.push((r, t)),
                Job::Logout(s, t) => logouts.push((s, t)),
                Job::Heartbeat(s, t) => beats.push((s, t)),
            }
        }
        apply(&ledger, beats, |l, ids| Box::pin(l.heartbeat_many(ids))).await;
        commit(&ledger, logouts, logins).await;
    }
}

/// Logouts and logins of one turn (the ledger ends the logouts first, so their seats are there
/// for the logins). Each request gets its own answer: the ledger never applies a request
/// twice, so nothing here retries. A login whose caller has gone (the connection dropped
/// before the answer) is logged out at once: no client knows that session.
async fn commit(
    ledger: &Ledger,
    logouts: Vec<(String, oneshot::Sender<ApiResult<bool>>)>,
    logins: Vec<(LoginRequest, oneshot::Sender<ApiResult<LoginAnswer>>)>,
) {
    if logouts.is_empty() && logins.is_empty() {
        return;
    }
    let ids: Vec<String> = logouts.iter().map(|(i, _)| i.clone()).collect();
    let reqs: Vec<LoginRequest> = logins.iter().map(|(r, _)| r.clone()).collect();
    let batch = ledger.log_out_and_in(&ids, &reqs).await;
    for ((_, reply), ended) in logouts.into_iter().zip(batch.ended) {
        let _ = reply.send(ended.map_err(ApiError::from));
    }
    let mut orphans = Vec::new();
    for ((_, reply), answer) in logins.into_iter().zip(batch.answers) {
        if let Err(Ok(LoginAnswer::Allowed(allowed))) = reply.send(answer.map_err(ApiError::from)) {
            orphans.push(allowed.session_id);
        }
    }
    if !orphans.is_empty() {
        let ended = ledger.log_out_and_in(&orphans, &[]).await;
        let failed = ended.ended.iter().filter(|e| e.is_err()).count();
        tracing::info!(
            sessions = orphans.len(),
            failed,
            "logged out sessions whose caller left before the answer"
        );
    }
}

type Fut<'a, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = seatkeeper_store::Result<Vec<T>>> + Send + 'a>,
>;

async fn apply<I: Clone + Send + Sync, T: Send>(
    ledger: &Ledger,
    jobs: Vec<(I, oneshot::Sender<ApiResult<T>>)>,
    call: impl for<'a> Fn(&'a Ledger, &'a [I]) -> Fut<'a, T>,
) {
    if jobs.is_empty() {
        return;
    }
    let inputs: Vec<I> = jobs.iter().map(|(i, _)| i.clone()).collect();
    match call(ledger, &inputs).await {
        Ok(answers) if answers.len() == jobs.len() => {
            for ((_, reply), answer) in jobs.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Ok(_) => {
            for (_, reply) in jobs {
                let _ = reply.send(Err(ApiError::unavailable("batch answered out of step")));
            }
        }
        Err(e) if jobs.len() == 1 => {
            if let Some((_, reply)) = jobs.into_iter().next() {
                let _ = reply.send(Err(e.into()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, size = jobs.len(), "batch failed; retrying one by one");
            for (input, reply) in jobs {
                let result = call(ledger, std::slice::from_ref(&input))
                    .await
                    .map_err(ApiError::from)
                    .and_then(|mut v| v.pop().ok_or_else(|| ApiError::unavailable("no answer")));
                let _ = reply.send(result);
            }
        }
    }
}
