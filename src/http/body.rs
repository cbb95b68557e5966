//! A webhook's body, read under the limits a stranger must not be able to exceed.
//!
//! - The buffer grows as bytes arrive, never to the length a request declares.
//! - `server.max_body_bytes` bounds what comes in and, for gzip and deflate bodies,
//!   what comes out of the inflater: inflating stops there (413), so a small bomb costs
//!   no more than a large plain body.
//! - `server.body_timeout_secs` bounds how long a body may take (408).
//! - Until a request's sender is known (its credentials were in the head, or its body
//!   was verified), the memory its body holds is charged to one budget shared by all
//!   such requests, `server.max_unverified_bytes`; when it is spent, new strangers get
//!   503 with `Retry-After`, and platforms retry.

use crate::config::ServerConfig;
use crate::sources::{excerpt, Credentials};
use actix_web::http::header::{HeaderMap, CONTENT_ENCODING, CONTENT_LENGTH};
use actix_web::web;
use futures_util::StreamExt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget counts in KiB, so that one request's charge always fits a permit count.
const UNIT: usize = 1024;
/// What a request holds besides its body while it streams in: actix's buffers.
const PER_REQUEST: usize = 32 * 1024;
/// What an inflater holds: its window and output buffer.
const PER_INFLATER: usize = 64 * 1024;
/// The first allocation of a body; it doubles from there.
const FIRST_ALLOCATION: usize = 8 * 1024;

/// Why a body was not read. [`BodyError::status`] decides the answer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("the body did not arrive within {0} s")]
    TimedOut(u64),
    #[error("content-encoding `{0}` is not supported: send gzip, deflate or none")]
    Encoding(String),
    #[error("the body could not be read: {0}")]
    Unreadable(String),
    #[error("too many unverified requests are being read; retry later")]
    Busy,
}

impl BodyError {
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge(_) => 413,
            BodyError::TimedOut(_) => 408,
            BodyError::Encoding(_) => 415,
            BodyError::Unreadable(_) => 400,
            BodyError::Busy => 503,
        }
    }
}

/// The limits and the shared budget; one per daemon.
#[derive(Clone)]
pub struct Intake {
    max_bytes: usize,
    timeout: Duration,
    budget: Arc<Semaphore>,
}

/// A body read in full. While `hold` is kept its memory stays charged to the budget.
pub struct Body {
    pub bytes: Vec<u8>,
    hold: Option<OwnedSemaphorePermit>,
}

impl Body {
    /// The sender is known now: its memory no longer counts as a stranger's.
    pub fn vouched(&mut self) {
        self.hold = None;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
}

fn coding(headers: &HeaderMap) -> Result<Coding, BodyError> {
    let mut values = headers.get_all(CONTENT_ENCODING);
    let Some(value) = values.next() else {
        return Ok(Coding::Identity);
    };
    let text = value.to_str().unwrap_or("?");
    if values.next().is_some() {
        return Err(BodyError::Encoding(format!("{}, …", excerpt(text))));
    }
    coding_named(text)
}

fn coding_named(text: &str) -> Result<Coding, BodyError> {
    let text = text.trim().to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Ok(Coding::Identity),
        "gzip" | "x-gzip" => Ok(Coding::Gzip),
        "deflate" => Ok(Coding::Deflate),
        _ => Err(BodyError::Encoding(excerpt(&text))),
    }
}

/// A body as it streams in: counted, inflated when it is compressed, gathered.
pub struct Inflow {
    sink: Sink,
    received: usize,
    limit: usize,
}

impl Inflow {
    /// A body sent with `content_encoding`, at most `limit` bytes in and out, charged
    /// to no budget.
    pub fn new(content_encoding: Option<&str>, limit: usize) -> Result<Inflow, BodyError> {
        let coding = content_encoding.map_or(Ok(Coding::Identity), coding_named)?;
        Ok(Inflow::charged(coding, limit, None))
    }

    fn charged(coding: Coding, limit: usize, charge: Option<Charge>) -> Inflow {
        let gathered = Gathered {
            bytes: Vec::new(),
            limit,
            charge,
        };
        let sink = match coding {
            Coding::Identity => Sink::Plain(gathered),
            Coding::Gzip => Sink::Gzip(flate2::write::GzDecoder::new(gathered)),
            Coding::Deflate => Sink::Deflate(flate2::write::ZlibDecoder::new(gathered)),
        };
        Inflow {
            sink,
            received: 0,
            limit,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        self.received += chunk.len();
        // What is sent counts as well as what it inflates to: a stream that inflates
        // to nothing must not run forever either.
        if self.received > self.limit {
            return Err(BodyError::TooLarge(self.limit));
        }
        self.sink.write(chunk)
    }

    /// The whole body; a compressed one must also have ended properly.
    pub fn finish(self) -> Result<Vec<u8>, BodyError> {
        self.sink.finish().map(|gathered| gathered.bytes)
    }

    fn finish_charged(self) -> Result<Body, BodyError> {
        let gathered = self.sink.finish()?;
        Ok(Body {
            bytes: gathered.bytes,
            hold: gathered.charge.map(|charge| charge.held),
        })
    }
}

impl Intake {
    pub fn new(server: &ServerConfig) -> Intake {
        let units = server.max_unverified_bytes.div_ceil(UNIT);
        Intake {
            max_bytes: server.max_body_bytes,
            timeout: Duration::from_secs(server.body_timeout_secs),
            budget: Arc::new(Semaphore::new(units.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Reads the whole body, inflated, within the limits; a stranger's body is charged
    /// to the budget until [`Body::vouched`].
    pub async fn read(
        &self,
        mut payload: web::Payload,
        headers: &HeaderMap,
        credentials: Credentials,
    ) -> Result<Body, BodyError> {
        let coding = coding(headers)?;
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_bytes as u64) {
            return Err(BodyError::TooLarge(self.max_bytes));
        }
        let charge = match credentials {
            Credentials::Checked => None,
            Credentials::InBody => {
                let fixed = PER_REQUEST
                    + if coding == Coding::Identity {
                        0
                    } else {
                        PER_INFLATER
                    };
                Some(Charge::take(self.budget.clone(), fixed)?)
            }
        };
        let mut inflow = Inflow::charged(coding, self.max_bytes, charge);
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, payload.next())
                .await
                .map_err(|_| BodyError::TimedOut(self.timeout.as_secs()))?;
            let Some(chunk) = next else { break };
            inflow.push(&chunk.map_err(|error| BodyError::Unreadable(error.to_string()))?)?;
        }
        inflow.finish_charged()
    }
}

/// Permits held for one request, grown as its body grows.
struct Charge {
    budget: Arc<Semaphore>,
    held: OwnedSemaphorePermit,
}

impl Charge {
    fn take(budget: Arc<Semaphore>, bytes: usize) -> Result<Charge, BodyError> {
        let held = acquire(&budget, bytes)?;
        Ok(Charge { budget, held })
    }

    fn grow(&mut self, bytes: usize) -> Result<(), BodyError> {
        let more = acquire(&self.budget, bytes)?;
        self.held.merge(more);
        Ok(())
    }
}

fn acquire(budget: &Arc<Semaphore>, bytes: usize) -> Result<OwnedSemaphorePermit, BodyError> {
    let units = u32::try_from(bytes.div_ceil(UNIT)).map_err(|_| BodyError::Busy)?;
    budget
        .clone()
        .try_acquire_many_owned(units)
        .map_err(|_| BodyError::Busy)
}

/// The body as it grows: refused past the limit, charged before it grows.
struct Gathered {
    bytes: Vec<u8>,
    limit: usize,
    charge: Option<Charge>,
}

impl Gathered {
    fn push(&mut self, data: &[u8]) -> Result<(), BodyError> {
        let needed = self.bytes.len() + data.len();
        if needed > self.limit {
            return Err(BodyError::TooLarge(self.limit));
        }
        let capacity = self.bytes.capacity();
        if needed > capacity {
            let grown = (capacity * 2)
                .max(needed)
                .max(FIRST_ALLOCATION)
                .min(self.limit);
            if let Some(charge) = &mut self.charge {
                charge.grow(grown - capacity)?;
            }
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }
}

/// The inflaters write into [`Gathered`]; a refusal travels through `io::Error`.
impl Write for Gathered {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.push(data).map_err(std::io::Error::other)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Sink {
    Plain(Gathered),
    Gzip(flate2::write::GzDecoder<Gathered>),
    Deflate(flate2::write::ZlibDecoder<Gathered>),
}

/// Our refusal when the inflater passed one on, else the stream's own fault.
fn inflate_error(error: std::io::Error) -> BodyError {
    let text = error.to_string();
    match error
        .into_inner()
        .map(|inner| inner.downcast::<BodyError>())
    {
        Some(Ok(ours)) => *ours,
        _ => BodyError::Unreadable(format!("not a valid compressed stream ({text})")),
    }
}

impl Sink {
    fn write(&mut self, data: &[u8]) -> Result<(), BodyError> {
        match self {
            Sink::Plain(gathered) => gathered.push(data),
            Sink::Gzip(decoder) => decoder.write_all(data).map_err(inflate_error),
            Sink::Deflate(decoder) => decoder.write_all(data).map_err(inflate_error),
        }
    }

    /// The whole body; a compressed stream must also have ended properly.
    fn finish(self) -> Result<Gathered, BodyError> {
        match self {
            Sink::Plain(gathered) => Ok(gathered),
            Sink::Gzip(decoder) => decoder.finish().map_err(inflate_error),
            Sink::Deflate(decoder) => decoder.finish().map_err(inflate_error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gathered(limit: usize, budget: Option<&Arc<Semaphore>>) -> Gathered {
        Gathered {
            bytes: Vec::new(),
            limit,
            charge: budget.map(|budget| Charge::take(budget.clone(), 0).unwrap()),
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn inflating_stops_at_the_limit_of_output() {
        // 4 MiB of zeros compress to a few KiB.
        let bomb = gzip(&vec![0u8; 4 << 20]);
        assert!(bomb.len() < 16 << 10, "{}", bomb.len());
        let mut sink = Sink::Gzip(flate2::write::GzDecoder::new(gathered(1 << 20, None)));
        assert_eq!(sink.write(&bomb), Err(BodyError::TooLarge(1 << 20)));
        let Sink::Gzip(decoder) = sink else {
            unreachable!()
        };
        assert!(decoder.get_ref().bytes.capacity() <= 1 << 20);
    }

    #[test]
    fn a_good_gzip_body_is_inflated_whole_and_a_truncated_one_is_refused() {
        let text = b"{\"type\":\"touch\"}".repeat(100);
        let packed = gzip(&text);
        let mut sink = Sink::Gzip(flate2::write::GzDecoder::new(gathered(1 << 20, None)));
        for piece in packed.chunks(7) {
            sink.write(piece).unwrap();
        }
        assert_eq!(sink.finish().unwrap().bytes, text);

        let mut sink = Sink::Gzip(flate2::write::GzDecoder::new(gathered(1 << 20, None)));
        sink.write(&packed[..packed.len() - 4]).unwrap();
        assert!(matches!(sink.finish(), Err(BodyError::Unreadable(_))));
        let mut sink = Sink::Gzip(flate2::write::GzDecoder::new(gathered(1 << 20, None)));
        assert!(matches!(
            sink.write(b"not gzip at all")
                .and_then(|()| sink.finish().map(|_| ())),
            Err(BodyError::Unreadable(_))
        ));
    }

    #[test]
    fn a_strangers_body_is_charged_as_it_grows_and_refused_when_the_budget_is_spent() {
        let budget = Arc::new(Semaphore::new(64)); // 64 KiB
        let mut first = gathered(1 << 20, Some(&budget));
        first.push(&[1u8; 40 << 10]).unwrap();
        assert!(budget.available_permits() <= 64 - 40);
        let mut second = gathered(1 << 20, Some(&budget));
        assert_eq!(second.push(&[1u8; 40 << 10]), Err(BodyError::Busy));
        drop(first);
        assert_eq!(budget.available_permits(), 64);
        second.push(&[1u8; 40 << 10]).unwrap();
    }

    #[test]
    fn encodings_are_read_in_any_case_and_unknown_ones_refused() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_ENCODING, value.parse().unwrap());
            coding(&headers)
        };
        assert_eq!(coding(&HeaderMap::new()), Ok(Coding::Identity));
        assert_eq!(with("GZip"), Ok(Coding::Gzip));
        assert_eq!(with("deflate"), Ok(Coding::Deflate));
        assert_eq!(with("br"), Err(BodyError::Encoding("br".into())));
        assert_eq!(with("br").unwrap_err().status(), 415);
    }
}
