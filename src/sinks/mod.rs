//! Sinks: write the fields reps see back into their CRM.
//!
//! Each CRM is one file or folder holding what is that CRM's own: its settings, how it
//! addresses a record, the request it builds, how it reads the answer, and the fields
//! `setup-crm` creates. The rest is shared: the delivery settings ([`delivery`]), the
//! status → retry decision ([`retry`]), the token cache ([`token`]) and the push loop
//! ([`PushLoop`]).
//!
//! Adding a CRM: its module below, a variant of [`SinkConfig`] and its arm in each
//! match.

mod crm;
pub mod delivery;
pub mod hubspot;
pub mod marketo;
pub mod pipedrive;
mod push;
pub mod retry;
pub mod salesforce;
pub mod setup;
pub mod token;

use crate::fields::{Recipient, Records};
use crate::model::Identity;
use crate::store::OutboxEntry;
use crm::Settings;
pub use crm::{Crm, Deliver, Sink};
pub use delivery::{Defaults, Delivery, RateLimit};
pub use push::PushLoop;
use serde::Deserialize;
pub use setup::{Setup, SinkError};
use std::time::Duration;

/// `[sinks.<name>]`; `kind` picks the CRM.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SinkConfig {
    Hubspot(Sink<hubspot::Hubspot>),
    Marketo(Sink<marketo::Marketo>),
    Salesforce(Sink<salesforce::Salesforce>),
    Pipedrive(Sink<pipedrive::Pipedrive>),
}

impl SinkConfig {
    /// The config `kind` of this sink.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Hubspot(_) => "hubspot",
            SinkConfig::Marketo(_) => "marketo",
            SinkConfig::Salesforce(_) => "salesforce",
            SinkConfig::Pipedrive(_) => "pipedrive",
        }
    }

    fn settings(&self) -> &dyn Settings {
        match self {
            SinkConfig::Hubspot(sink) => sink,
            SinkConfig::Marketo(sink) => sink,
            SinkConfig::Salesforce(sink) => sink,
            SinkConfig::Pipedrive(sink) => sink,
        }
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        match self {
            SinkConfig::Hubspot(sink) => sink.send(client, records, batch).await,
            SinkConfig::Marketo(sink) => sink.send(client, records, batch).await,
            SinkConfig::Salesforce(sink) => sink.send(client, records, batch).await,
            SinkConfig::Pipedrive(sink) => sink.send(client, records, batch).await,
        }
    }

    /// Creates the CRM fields this sink writes (`attentiond setup-crm`).
    pub async fn setup(
        &self,
        client: &reqwest::Client,
        setup: &mut Setup,
    ) -> Result<(), SinkError> {
        match self {
            SinkConfig::Hubspot(sink) => sink.setup(client, setup).await,
            SinkConfig::Marketo(sink) => sink.setup(client, setup).await,
            SinkConfig::Salesforce(sink) => sink.setup(client, setup).await,
            SinkConfig::Pipedrive(sink) => sink.setup(client, setup).await,
        }
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        self.settings().validate()
    }

    /// How often, how much and how hard this sink writes.
    pub fn delivery(&self) -> &Delivery {
        self.settings().delivery()
    }

    /// The CRM's names of the fields this sink writes for `records`.
    pub fn names(&self, records: Records) -> crate::fields::FieldNames {
        self.settings().names(records)
    }
}

impl Recipient for SinkConfig {
    fn addressable(&self, identities: &[Identity]) -> bool {
        self.settings().addressable(identities)
    }

    fn account_addressable(&self, account: &str) -> bool {
        self.settings().account_addressable(account)
    }
}

/// How a batch went, as the shared loop needs to know it.
#[derive(Debug)]
pub enum Outcome {
    /// The CRM answered per record: `None` accepted, `Some(error)` refused.
    /// `pause` when the CRM says its budget is nearly spent (Salesforce's daily
    /// limit, Pipedrive's remaining tokens): no request before it has passed.
    PerRecord {
        status: u16,
        errors: Vec<Option<String>>,
        pause: Option<Duration>,
    },
    /// Nothing was written and trying again later will help (429, 5xx, network,
    /// or credentials the operator must fix). `retry_after` when the CRM said.
    Transient {
        status: Option<u16>,
        retry_after: Option<Duration>,
        error: String,
    },
    /// The whole batch was refused (4xx): one bad record can do that, so the
    /// records are retried one by one.
    Rejected { status: u16, error: String },
}

/// "error sending request: connection refused" rather than the first word alone.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// "HTTP 502: <html>bad gateway…": a status, and the start of a body the CRM's error
/// format does not explain.
pub fn status_text(status: u16, body: &str) -> String {
    format!("HTTP {status}: {}", excerpt(body))
}

/// The start of a body, enough to recognise it in a log.
pub fn excerpt(body: &str) -> String {
    body.chars().take(300).collect()
}

/// Does this look like a URL attentiond can call?
pub fn is_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(table: serde_json::Value) -> Result<SinkConfig, String> {
        serde_json::from_value(table).map_err(|error| error.to_string())
    }

    fn delivery(table: serde_json::Value) -> Delivery {
        parse(table).unwrap().delivery().clone()
    }

    #[test]
    fn each_crm_keeps_its_delivery_defaults() {
        let hubspot = delivery(serde_json::json!({"kind": "hubspot", "access_token": "t"}));
        assert_eq!(
            (
                hubspot.flush_interval_ms,
                hubspot.batch_size,
                hubspot.concurrency
            ),
            (1000, 100, 4)
        );
        assert_eq!(hubspot.rate_limit, RateLimit::new(100, 10.0));
        let marketo = delivery(serde_json::json!({
            "kind": "marketo", "base_url": "https://m.example", "client_id": "c", "client_secret": "s"
        }));
        assert_eq!((marketo.batch_size, marketo.concurrency), (300, 4));
        assert_eq!(marketo.rate_limit, RateLimit::new(10, 2.5));
        let salesforce = delivery(serde_json::json!({
            "kind": "salesforce", "instance_url": "https://a.my.salesforce.com", "client_id": "c", "client_secret": "s"
        }));
        assert_eq!(
            (salesforce.flush_interval_ms, salesforce.batch_size),
            (10_000, 200)
        );
        assert_eq!(salesforce.rate_limit, RateLimit::new(10, 1.0));
        let pipedrive = delivery(serde_json::json!({
            "kind": "pipedrive", "base_url": "https://acme.pipedrive.com", "api_token": "t"
        }));
        assert_eq!((pipedrive.batch_size, pipedrive.concurrency), (10, 2));
        for delivery in [&hubspot, &marketo, &salesforce, &pipedrive] {
            assert_eq!((delivery.max_attempts, delivery.timeout_secs), (5, 30));
        }
    }

    #[test]
    fn delivery_keys_sit_flat_beside_the_crms_own() {
        let config = parse(serde_json::json!({
            "kind": "hubspot", "access_token": "t", "batch_size": 50,
            "rate_limit": {"requests": 2, "per_secs": 1}, "account_fields": {"score": "x"}
        }))
        .unwrap();
        assert_eq!(config.delivery().batch_size, 50);
        assert_eq!(config.delivery().rate_limit, RateLimit::new(2, 1.0));
        assert_eq!(config.delivery().account_fields["score"], "x");
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn an_unknown_key_is_named_with_every_key_the_sink_takes() {
        let error = parse(serde_json::json!({
            "kind": "hubspot", "access_token": "t", "flush_intervall_ms": 5
        }))
        .unwrap_err();
        assert!(
            error.contains("flush_intervall_ms")
                && error.contains("`flush_interval_ms`")
                && error.contains("`access_token`"),
            "{error}"
        );
        // Marketo and Pipedrive hold no accounts, so account fields are no key of theirs.
        let error = parse(serde_json::json!({
            "kind": "pipedrive", "base_url": "https://acme.pipedrive.com", "api_token": "t",
            "account_fields": {}
        }))
        .unwrap_err();
        assert!(error.contains("unknown field `account_fields`"), "{error}");
        let missing = parse(serde_json::json!({"kind": "hubspot"})).unwrap_err();
        assert!(missing.contains("access_token"), "{missing}");
    }

    #[test]
    fn a_zero_timeout_is_refused_for_every_crm() {
        for table in [
            serde_json::json!({"kind": "hubspot", "access_token": "t"}),
            serde_json::json!({"kind": "marketo", "base_url": "https://m.example", "client_id": "c", "client_secret": "s"}),
            serde_json::json!({"kind": "salesforce", "instance_url": "https://a.my.salesforce.com", "client_id": "c", "client_secret": "s"}),
            serde_json::json!({"kind": "pipedrive", "base_url": "https://acme.pipedrive.com", "api_token": "t"}),
        ] {
            let mut table = table;
            table["timeout_secs"] = 0.into();
            let config = parse(table).unwrap();
            assert_eq!(
                config.validate().unwrap_err().0,
                "timeout_secs",
                "{}",
                config.kind()
            );
        }
    }
}
