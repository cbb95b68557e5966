//! What every platform reads and answers: the delivery as the HTTP layer saw it, the
//! [`Adapter`] each platform implements, why a delivery is refused, and a reply in a
//! platform's own format.

use crate::model::{Event, Millis};

/// What a platform sent, as the HTTP layer saw it. Header names are lowercase.
#[derive(Debug)]
pub struct Delivery<'a> {
    pub method: &'a str,
    /// The full URL the platform called (public URL when configured).
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Delivery<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub(super) fn require_header(&self, name: &'static str) -> Result<&str, SourceError> {
        self.header(name).ok_or(SourceError::MissingHeader(name))
    }

    /// The first value of `name` in the URL's query string, percent-decoded: where
    /// platforms that sign nothing carry a shared secret.
    pub(super) fn query(&self, name: &str) -> Option<String> {
        let query = self.url.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or("");
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// Why a delivery was refused. [`SourceError::status`] is the one place that decides
/// the HTTP answer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SourceError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("invalid signature")]
    InvalidSignature,
    /// A shared secret, token or account id that does not match (schemes without
    /// signatures: URL keys, Basic auth, organization ids).
    #[error("{0}")]
    BadCredentials(String),
    #[error("timestamp outside the {0}s tolerance")]
    StaleTimestamp(u64),
    #[error("unreadable timestamp header")]
    BadTimestamp,
    #[error("malformed payload: {0}")]
    Malformed(String),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
}

impl SourceError {
    pub fn status(&self) -> u16 {
        match self {
            SourceError::MissingHeader(_)
            | SourceError::InvalidSignature
            | SourceError::BadCredentials(_)
            | SourceError::StaleTimestamp(_)
            | SourceError::BadTimestamp => 401,
            SourceError::Malformed(_) => 400,
            SourceError::TooLarge(_) => 413,
        }
    }

    pub fn malformed(reason: impl Into<String>) -> SourceError {
        SourceError::Malformed(reason.into())
    }
}

/// An answer a platform expects in its own format (a SOAP envelope, a challenge
/// response), instead of our JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            content_type,
            body: body.into(),
        }
    }
}

/// One platform.
pub trait Adapter {
    /// Pure checks of the settings: the offending key and why.
    fn validate(&self) -> Result<(), (String, String)>;

    /// Requests a platform makes to check the endpoint before it sends events (a GET
    /// or HEAD, a URL-validation challenge). `Some` answers them without storing
    /// anything; `None` means this is an ordinary delivery.
    fn probe(&self, _delivery: &Delivery<'_>, _now: Millis) -> Option<Result<Reply, SourceError>> {
        None
    }

    /// The body that tells the platform a delivery was taken (`None`: our JSON).
    fn acknowledgement(&self) -> Option<Reply> {
        None
    }

    /// The body of a refusal, when the platform needs its own format (`None`: RFC 7807).
    fn refusal(&self, _error: &SourceError) -> Option<Reply> {
        None
    }
    /// Checks that the delivery really comes from the platform, on the exact bytes.
    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError>;
    /// Reads an authentic delivery. Anything it cannot understand is `Malformed`.
    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError>;
}
