//! What every platform reads and answers: the delivery as the HTTP layer saw it, the
//! [`Adapter`] each platform implements, why a delivery is refused, and a reply in a
//! platform's own format.

use crate::model::{Event, Millis};

/// What a platform sent before its body: enough to check credentials that are not in
/// the body, so that a stranger is turned away before a byte of the body is read.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub method: &'a str,
    /// The full URL the platform called (public URL when configured).
    pub url: &'a str,
    pub headers: &'a [(String, String)],
}

impl<'a> Head<'a> {
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub(super) fn require_header(&self, name: &'static str) -> Result<&'a str, SourceError> {
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

    /// The credentials of `Authorization: <scheme> <credentials>`, the scheme matched in
    /// any case (RFC 7235 §2.1).
    pub(super) fn authorization(&self, scheme: &str) -> Option<&'a str> {
        authorization(self.header("authorization")?, scheme)
    }
}

/// The credentials of an `Authorization` value when it uses `scheme`, compared in any
/// case as RFC 7235 §2.1 asks: `Bearer`, `bearer` and `BEARER` are one scheme.
pub fn authorization<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, credentials) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then_some(credentials.trim())
}

/// What the head of a request says about its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Checked before the body (a URL key, HTTP Basic, a header secret): the sender is
    /// known.
    Checked,
    /// Only the body can tell (a signature over it, an id inside it): until the body
    /// is verified, the sender is a stranger.
    InBody,
}

/// What a platform sent, as the HTTP layer saw it. Header names are lowercase.
#[derive(Debug)]
pub struct Delivery<'a> {
    pub method: &'a str,
    /// The full URL the platform called (public URL when configured).
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> Delivery<'a> {
    pub fn head(&self) -> Head<'a> {
        Head {
            method: self.method,
            url: self.url,
            headers: self.headers,
        }
    }

    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.head().header(name)
    }

    pub(super) fn require_header(&self, name: &'static str) -> Result<&'a str, SourceError> {
        self.head().require_header(name)
    }
}

/// The longest reason a refusal gives, in bytes.
const MAX_REASON_BYTES: usize = 400;

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

    /// A payload that cannot be read, and why. The reason is cut to a few hundred
    /// bytes: it is answered and logged, and may quote what was sent.
    pub fn malformed(reason: impl Into<String>) -> SourceError {
        let mut reason = reason.into();
        if reason.len() > MAX_REASON_BYTES {
            let mut cut = MAX_REASON_BYTES;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
            reason.push('…');
        }
        SourceError::Malformed(reason)
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

    /// Credentials outside the body, checked before the body is read, so that a
    /// stranger costs no memory. [`Adapter::verify`] checks them again with the rest.
    fn authenticate(&self, _head: &Head<'_>, _now: Millis) -> Result<Credentials, SourceError> {
        Ok(Credentials::InBody)
    }

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
