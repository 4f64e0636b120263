//! Serving the router on a TCP listener with the limits a server facing the internet needs: a deadline
//! for every request's headers (which also closes a connection that says nothing, before its first
//! request or between two), and a cap on the connections one client address holds open, live sync
//! sessions included. With TLS, the handshake must also finish within the header deadline.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::app::Limits;

/// Open connections by client address.
type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One connection's place in the count of its address; freed when the connection (or the WebSocket it
/// became) closes.
struct Place {
    counts: Counts,
    address: IpAddr,
}

impl Place {
    fn take(counts: &Counts, address: IpAddr, max: usize) -> Option<Place> {
        let mut open = counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(address).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Place {
            counts: counts.clone(),
            address,
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// A TCP stream that holds its place in its address's count.
struct Counted {
    stream: TcpStream,
    _place: Place,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// How long connections that are still busy get to finish once the relay stops.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then lets
/// open requests and sessions finish for at most [`DRAIN`]. Returns how many connections were still open
/// when it gave up waiting.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> usize {
    let counts: Counts = Arc::default();
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, for instance: wait instead of spinning.
                    warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(place) = Place::take(&counts, address.ip(), limits.connections_per_address) else {
            debug!(client = %address.ip(), "refused a connection beyond the per-address limit");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = Counted {
            stream,
            _place: place,
        };
        let (router, header_timeout, stopping) =
            (router.clone(), limits.header_timeout, stopping.clone());
        match tls.clone() {
            None => {
                tokio::spawn(connection(
                    stream,
                    address,
                    router,
                    header_timeout,
                    stopping,
                ));
            }
            Some(tls) => {
                tokio::spawn(async move {
                    match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            connection(stream, address, router, header_timeout, stopping).await
                        }
                        Ok(Err(e)) => {
                            debug!(client = %address.ip(), error = %e, "TLS handshake failed")
                        }
                        Err(_) => debug!(client = %address.ip(), "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    let _ = stop.send(true);
    let deadline = tokio::time::Instant::now() + DRAIN;
    let open = || {
        counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum::<usize>()
    };
    while open() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    open()
}

async fn connection(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    address: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(address));
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                debug!(client = %address.ip(), error = %e, "connection ended");
            }
        }
        _ = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
