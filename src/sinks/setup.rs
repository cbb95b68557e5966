//! `attentiond setup-crm <sink>`: what each sink's `setup` reports, and its errors.

use std::fmt;

/// Errors talking to a CRM outside the push loop (setup, lookups).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot reach the CRM: {0}")]
    Network(String),
    #[error("the CRM refused the credentials: {0}")]
    Auth(String),
    #[error("HTTP {status} from {what}: {message}")]
    Api {
        what: String,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from {what}: {message}")]
    Unreadable { what: String, message: String },
}

impl SinkError {
    pub fn network(error: reqwest::Error) -> SinkError {
        SinkError::Network(super::error_chain(&error.without_url()))
    }

    /// A status the CRM refused a setup request or lookup with: refused credentials or
    /// permissions are the operator's to fix, anything else is the API's answer.
    pub fn refused(what: impl Into<String>, status: u16, message: String) -> SinkError {
        match status {
            401 | 403 => SinkError::Auth(message),
            _ => SinkError::Api {
                what: what.into(),
                status,
                message,
            },
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Created(String),
    Exists(String),
    /// `--dry-run`: the request that would be sent.
    WouldSend {
        method: String,
        url: String,
        body: String,
    },
    /// Something the operator has to do by hand, said exactly.
    Manual(String),
    Note(String),
}

/// Collects what `setup` did, or with `dry_run` would do.
#[derive(Debug, Default)]
pub struct Setup {
    pub dry_run: bool,
    pub steps: Vec<Step>,
}

impl Setup {
    pub fn new(dry_run: bool) -> Setup {
        Setup {
            dry_run,
            steps: Vec::new(),
        }
    }

    pub fn exists(&mut self, what: impl Into<String>) {
        self.steps.push(Step::Exists(what.into()));
    }

    pub fn created(&mut self, what: impl Into<String>) {
        self.steps.push(Step::Created(what.into()));
    }

    pub fn manual(&mut self, what: impl Into<String>) {
        self.steps.push(Step::Manual(what.into()));
    }

    pub fn note(&mut self, what: impl Into<String>) {
        self.steps.push(Step::Note(what.into()));
    }

    /// Call before a request that changes the CRM: in a dry run it is recorded and
    /// `false` comes back (do not send); otherwise `true`.
    pub fn may_send(&mut self, method: &str, url: &str, body: &serde_json::Value) -> bool {
        if self.dry_run {
            self.steps.push(Step::WouldSend {
                method: method.into(),
                url: url.into(),
                body: body.to_string(),
            });
            false
        } else {
            true
        }
    }

    pub fn created_count(&self) -> usize {
        self.steps
            .iter()
            .filter(|step| matches!(step, Step::Created(_)))
            .count()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Created(what) => write!(f, "created   {what}"),
            Step::Exists(what) => write!(f, "exists    {what}"),
            Step::WouldSend { method, url, body } => {
                write!(f, "would send {method} {url}\n    {body}")
            }
            Step::Manual(what) => write!(f, "BY HAND   {what}"),
            Step::Note(what) => write!(f, "note      {what}"),
        }
    }
}
