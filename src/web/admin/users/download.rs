//! The admin's export download, streamed: the export runs on a blocking thread and writes into
//! a bounded channel that the response body drains, so the daemon holds a few pieces of the
//! file at a time whatever the subject holds. One export at a time (an advisory lock held by
//! the export's transaction, whichever daemon serves it); a browser that stops reading for
//! [`STALL`] or leaves ends the export and frees its database connection.

use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use tokio::sync::mpsc::{self, Receiver, Sender, error::TrySendError};
use uuid::Uuid;

use crate::db::DbPool;
use crate::db::models::lifecycle::{self, Concurrency, LifecycleError, Subject};

/// Bytes per piece sent to the response.
const PIECE: usize = 64 * 1024;
/// Pieces queued between the export and the response.
const QUEUED: usize = 4;
/// How long the export waits for a browser that stopped reading before it gives up.
pub(super) const STALL: Duration = Duration::from_secs(300);

/// Why a download failed: before its first byte, the response says so; after, the connection
/// is cut (the browser shows the download as failed, never a truncated file as complete).
#[derive(Debug, thiserror::Error)]
pub(super) enum Failed {
    #[error(transparent)]
    Export(#[from] LifecycleError),
    #[error("no database connection: {0}")]
    Pool(String),
}

type Piece = Result<Bytes, Failed>;

/// The export's writer: pieces of [`PIECE`] bytes into the channel.
struct ChannelWriter {
    tx: Sender<Piece>,
    buf: Vec<u8>,
}

/// Sends one piece, waiting while the channel is full (the browser reads slower than the
/// database) up to [`STALL`]; fails once the response is gone.
fn send(tx: &Sender<Piece>, piece: Piece) -> io::Result<()> {
    let deadline = Instant::now() + STALL;
    let mut piece = piece;
    let mut pause = Duration::from_millis(1);
    loop {
        match tx.try_send(piece) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the download was abandoned",
                ));
            }
            Err(TrySendError::Full(back)) => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the browser stopped reading the download",
                    ));
                }
                piece = back;
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        send(&self.tx, Ok(piece))
    }
}

/// Starts the export of `subject` on a blocking thread; its pieces, or its failure, arrive on
/// the receiver (closed once all is sent).
pub(super) fn start(pool: DbPool, subject: Subject, admin: Uuid) -> Receiver<Piece> {
    let (tx, rx) = mpsc::channel(QUEUED);
    actix_web::rt::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(PIECE),
        };
        let done = pool
            .get()
            .map_err(|e| Failed::Pool(e.to_string()))
            .and_then(|mut conn| {
                Ok(lifecycle::export_to(
                    &mut conn,
                    &subject,
                    Concurrency::OneAtATime,
                    &mut writer,
                    |_, _| {},
                )?)
            });
        match done {
            Ok(counts) => {
                let rows: usize = counts.iter().map(|(_, n)| n).sum();
                tracing::info!(admin.id = %admin, export.rows = rows, export.ms = started.elapsed().as_millis() as u64, "data export downloaded");
            }
            Err(Failed::Export(LifecycleError::Write(e))) => {
                tracing::info!(admin.id = %admin, error = %e, "data export download ended early");
            }
            Err(e) => {
                let _ = send(&tx, Err(e));
            }
        }
    });
    rx
}

/// The response body: the first piece (already received to choose the status), then the
/// channel's.
pub(super) struct Download {
    pub(super) first: Option<Bytes>,
    pub(super) rx: Receiver<Piece>,
}

impl MessageBody for Download {
    type Error = Failed;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        this.rx.poll_recv(cx)
    }
}
