//! Keep-alive after an answer that did not read the request body (a 401/403 from the access
//! check, a refusal before the body was needed, a body over its limit).
//!
//! hyper keeps a connection open only when the request body was read to its end; otherwise it
//! reads what is already buffered and, if that is not the end, closes the connection after
//! the answer, without saying so. A client that sent the next request on that connection
//! then sees it cut off (the fault-and-abuse run saw this on about 2% of 401/403 answers to
//! requests with a body). So the answer goes out at once, and the rest of an unread body of at
//! most `DRAIN_MAX` bytes is read and dropped behind it (for at most `DRAIN_TIME`), which
//! keeps the connection; a larger or unsized rest gets `Connection: close` instead, so the
//! client knows not to reuse the connection.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::CONNECTION;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// The most of an unread body read to keep the connection (more is a reason to close it).
const DRAIN_MAX: usize = 1024 * 1024;
/// The longest an answer waits for the rest of an unread body.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The request body, shared between the handler and this layer: the handler reads it as
/// usual; what it leaves is still here afterwards.
struct Shared(Arc<Mutex<Body>>);

fn lock(body: &Mutex<Body>) -> MutexGuard<'_, Body> {
    // A panic while polling leaves the body no worse than it was; keep using it.
    body.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HttpBody for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut *lock(&self.0)).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        lock(&self.0).is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        lock(&self.0).size_hint()
    }
}

/// Reads and drops the rest of `body`; if it does not end within the bounds, dropping it
/// lets hyper close the connection.
async fn drain(body: Arc<Mutex<Body>>) {
    let mut read = 0usize;
    let rest = std::future::poll_fn(move |cx| {
        loop {
            let mut b = lock(&body);
            if b.is_end_stream() {
                return Poll::Ready(());
            }
            match Pin::new(&mut *b).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Ready(Some(Err(_))) => return Poll::Ready(()),
                Poll::Ready(Some(Ok(frame))) => {
                    read += frame.data_ref().map_or(0, Bytes::len);
                    if read > DRAIN_MAX {
                        return Poll::Ready(());
                    }
                }
            }
        }
    });
    let _ = tokio::time::timeout(DRAIN_TIME, rest).await;
}

/// The layer (on every route): the handler runs with the shared body; what it did not read
/// is drained behind the answer, or the answer says the connection closes.
pub async fn drain_unread_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let shared = Arc::new(Mutex::new(body));
    let mut response = next
        .run(Request::from_parts(
            parts,
            Body::new(Shared(Arc::clone(&shared))),
        ))
        .await;
    let (ended, rest) = {
        let b = lock(&shared);
        (b.is_end_stream(), b.size_hint().upper())
    };
    if ended {
        return response;
    }
    match rest {
        // hyper keeps feeding the body while someone reads it, after the answer too.
        Some(n) if n <= DRAIN_MAX as u64 => {
            tokio::spawn(drain(shared));
        }
        _ => {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}
