//! Group commit for the integration API: concurrent logins, logouts and heartbeats are
//! gathered while the previous batch commits and applied together, one transaction per
//! batch. Each request still gets its own answer; a batch that fails is retried one request
//! at a time, so one bad request cannot fail its neighbours.

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

/// Logouts and logins of one turn share a transaction (the ledger ends the logouts first, so
/// their seats are there for the logins). If the batch fails, each request is retried alone.
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
    match ledger.gate_batch(&ids, &reqs).await {
        Ok((ended, answers)) if ended.len() == ids.len() && answers.len() == reqs.len() => {
            for ((_, reply), e) in logouts.into_iter().zip(ended) {
                let _ = reply.send(Ok(e));
            }
            for ((_, reply), a) in logins.into_iter().zip(answers) {
                let _ = reply.send(Ok(a));
            }
        }
        Ok(_) => {
            tracing::error!("batch answered out of step");
            for (_, reply) in logouts {
                let _ = reply.send(Err(ApiError::unavailable("batch answered out of step")));
            }
            for (_, reply) in logins {
                let _ = reply.send(Err(ApiError::unavailable("batch answered out of step")));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, size = ids.len() + reqs.len(), "batch failed; retrying one by one");
            apply(ledger, logouts, |l, ids| Box::pin(l.logout_many(ids))).await;
            for job in logins {
                apply(ledger, vec![job], |l, reqs| Box::pin(l.login_many(reqs))).await;
            }
        }
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
