//! `kind = "salesforce"`: custom fields on Contacts, Leads and Accounts through sObject
//! Collections, `PATCH /services/data/vXX.X/composite/sobjects`, at most 200 records
//! per call, each record succeeding or failing on its own (`allOrNone: false`).
//!
//! The sink signs in with OAuth 2.0 (client credentials on the org's My Domain, or the
//! JWT bearer flow) and keeps the token until Salesforce answers `INVALID_SESSION_ID`;
//! then it signs in again and sends once more. A contact is written by the Salesforce
//! id it came with, else by the record a SOQL query finds for its email. Every answer's
//! `Sforce-Limit-Info` is read, and near the org's daily API limit the sink slows down.

mod api;
mod auth;
mod error;
mod limits;
mod lookup;
mod setup;
mod write;

use super::token::TokenCache;
use super::{is_url, Crm, Defaults, Deliver, Outcome, RateLimit, Setup, Sink, SinkError};
use crate::fields::{FieldSpec, Records};
use crate::model::Identity;
use crate::secret::Secret;
use crate::store::OutboxEntry;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Salesforce's limit on records per sObject Collections call.
const SALESFORCE_BATCH_LIMIT: usize = 200;

/// Salesforce has no per-second limit, only the daily one (which `slow_down_at`
/// guards) and 25 long-running requests at once. Each flush costs at least one API call
/// from the org's daily budget; ten seconds caps a steady trickle of changes at 8,640
/// calls a day.
const DEFAULTS: Defaults = Defaults {
    flush_interval_ms: 10_000,
    ..Defaults::new(SALESFORCE_BATCH_LIMIT, RateLimit::new(10, 1.0))
};

/// Salesforce's own keys of `[sinks.<name>]`; the delivery keys are shared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Salesforce {
    /// The org's My Domain URL, `https://<name>.my.salesforce.com` (a sandbox:
    /// `https://<name>--<sandbox>.sandbox.my.salesforce.com`). The client credentials
    /// flow gets its token here; REST calls go to the `instance_url` the token names.
    pub instance_url: String,
    /// How attentiond signs in: `client_credentials` or `jwt`.
    #[serde(default)]
    pub auth: AuthFlow,
    /// The consumer key of the connected app (or external client app).
    pub client_id: String,
    /// The app's consumer secret (`auth = "client_credentials"`).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The user the JWT bearer flow acts as (`auth = "jwt"`).
    #[serde(default)]
    pub username: Option<String>,
    /// PEM file with the unencrypted RSA private key whose certificate the app holds
    /// (`auth = "jwt"`).
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// Where the JWT bearer flow gets its token, also the JWT's audience:
    /// `https://login.salesforce.com`, or `https://test.salesforce.com` for a sandbox.
    #[serde(default = "default_login_url")]
    pub login_url: String,
    /// REST API version, `v61.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Which records people are written to: `Contact`, `Lead`, or `auto` (the record
    /// the contact came from Salesforce with, else a Contact, else an open Lead with
    /// its email).
    #[serde(default)]
    pub object: TargetObject,
    /// A contact with no Salesforce record: `dead_letter` (an error like any refused
    /// record) or `skip` (counted as done, nothing written).
    #[serde(default)]
    pub unmatched: Unmatched,
    /// Share of the org's daily API limit, 0 to 1, past which the sink spreads its
    /// remaining requests over the day.
    #[serde(default = "default_slow_down_at")]
    pub slow_down_at: f64,
    #[serde(skip)]
    state: Arc<State>,
}

pub type SalesforceSink = Sink<Salesforce>;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthFlow {
    #[default]
    ClientCredentials,
    Jwt,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum TargetObject {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    Contact,
    Lead,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    #[default]
    DeadLetter,
    Skip,
}

/// What the sink learns while it runs, shared by its concurrent requests.
#[derive(Default)]
struct State {
    token: TokenCache<auth::Token>,
    found: Mutex<HashMap<String, lookup::Target>>,
    usage: Mutex<Option<limits::ApiUsage>>,
}

impl State {
    fn remembered(&self) -> MutexGuard<'_, HashMap<String, lookup::Target>> {
        self.found.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("State { .. }")
    }
}

fn default_login_url() -> String {
    "https://login.salesforce.com".into()
}
fn default_api_version() -> String {
    "v61.0".into()
}
fn default_slow_down_at() -> f64 {
    0.9
}
const ACCOUNT_PREFIX: &str = "salesforce:";

/// `salesforce:001…` → the Account id.
fn account_id(account: &str) -> Option<&str> {
    account
        .strip_prefix(ACCOUNT_PREFIX)
        .filter(|id| lookup::Object::of_id(id) == Some(lookup::Object::Account))
}

impl SalesforceSink {
    fn api<'a>(&'a self, client: &'a reqwest::Client) -> api::Api<'a> {
        api::Api { sink: self, client }
    }

    /// The wait the latest `Sforce-Limit-Info` asks for.
    fn pause(&self) -> Option<Duration> {
        let usage = *self
            .crm
            .state
            .usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        usage?.pause(self.crm.slow_down_at, self.delivery.concurrency)
    }
}

impl Crm for Salesforce {
    const ACCOUNTS: bool = true;

    fn defaults(&self) -> Defaults {
        DEFAULTS
    }

    /// `Attention_Score__c`, `Attention_Last_Touch_At__c`, … on every object.
    fn default_name(spec: &FieldSpec) -> String {
        let title: Vec<String> = spec
            .name
            .split('_')
            .filter(|word| !word.is_empty())
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        format!("Attention_{}__c", title.join("_"))
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, message: &str| Err((key.to_string(), message.to_string()));
        if !is_url(&self.instance_url) {
            return fail("instance_url", "must start with https:// or http://");
        }
        if self.client_id.is_empty() {
            return fail("client_id", "must not be empty");
        }
        match self.auth {
            AuthFlow::ClientCredentials => {
                if self
                    .client_secret
                    .as_ref()
                    .is_none_or(|s| s.expose().is_empty())
                {
                    return fail(
                        "client_secret",
                        "is required with auth = \"client_credentials\"",
                    );
                }
                let host = self.instance_url.split("://").nth(1).unwrap_or_default();
                if host.starts_with("login.salesforce.com")
                    || host.starts_with("test.salesforce.com")
                {
                    return fail(
                        "instance_url",
                        "must be the org's My Domain URL (https://<name>.my.salesforce.com): the client credentials flow is not served on login or test.salesforce.com",
                    );
                }
            }
            AuthFlow::Jwt => {
                if self.username.as_deref().is_none_or(str::is_empty) {
                    return fail("username", "is required with auth = \"jwt\"");
                }
                if self.private_key_file.is_none() {
                    return fail("private_key_file", "is required with auth = \"jwt\"");
                }
                if !is_url(&self.login_url) {
                    return fail("login_url", "must start with https:// or http://");
                }
            }
        }
        let version = self.api_version.strip_prefix('v').unwrap_or_default();
        if !(version.split_once('.').is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major
                    .chars()
                    .chain(minor.chars())
                    .all(|c| c.is_ascii_digit())
        })) {
            return fail("api_version", "must look like \"v61.0\"");
        }
        if self.slow_down_at.is_nan() || self.slow_down_at <= 0.0 || self.slow_down_at > 1.0 {
            return fail("slow_down_at", "must be above 0 and at most 1");
        }
        Ok(())
    }

    fn addressable(&self, identities: &[Identity]) -> bool {
        self.object.address(identities).is_some()
    }

    fn account_addressable(&self, account: &str) -> bool {
        account_id(account).is_some()
    }
}

impl Deliver for SalesforceSink {
    async fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        match self.api(client).write(records, batch).await {
            Ok((status, errors)) => Outcome::PerRecord {
                status,
                errors,
                pause: self.pause(),
            },
            Err(error) => error.outcome(),
        }
    }

    async fn setup(&self, client: &reqwest::Client, setup: &mut Setup) -> Result<(), SinkError> {
        self.api(client).setup(setup).await.map_err(SinkError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Recipient;

    fn sink(extra: serde_json::Value) -> SalesforceSink {
        let mut config = serde_json::json!({
            "instance_url": "https://acme.my.salesforce.com",
            "client_id": "3MVG9consumer",
            "client_secret": "s",
        });
        if let (Some(base), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(config).unwrap()
    }

    fn invalid_key(extra: serde_json::Value) -> String {
        sink(extra).validate().unwrap_err().0
    }

    #[test]
    fn field_names_default_to_title_case_custom_fields() {
        let names = sink(serde_json::json!({})).names(Records::Contacts);
        let names: Vec<&str> = names.values().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "Attention_Fit_Grade__c",
                "Attention_Last_Touch_At__c",
                "Attention_Matrix__c",
                "Attention_Qualification_Stage__c",
                "Attention_Reasons__c",
                "Attention_Score__c",
                "Attention_Stage_Changed_At__c",
                "Attention_Trend__c",
                "Attention_Velocity__c"
            ]
        );
        let accounts = sink(serde_json::json!({})).names(Records::Accounts);
        assert_eq!(accounts["people_engaged"], "Attention_People_Engaged__c");
    }

    #[test]
    fn the_defaults_are_valid_and_mistakes_name_their_key() {
        assert_eq!(sink(serde_json::json!({})).validate(), Ok(()));
        assert_eq!(
            invalid_key(serde_json::json!({"instance_url": "acme.my.salesforce.com"})),
            "instance_url"
        );
        assert_eq!(
            invalid_key(serde_json::json!({"instance_url": "https://login.salesforce.com"})),
            "instance_url"
        );
        assert_eq!(
            invalid_key(serde_json::json!({"client_secret": ""})),
            "client_secret"
        );
        assert_eq!(invalid_key(serde_json::json!({"auth": "jwt"})), "username");
        assert_eq!(
            invalid_key(serde_json::json!({"auth": "jwt", "username": "u@x.com"})),
            "private_key_file"
        );
        assert_eq!(
            sink(serde_json::json!({"auth": "jwt", "username": "u@x.com", "private_key_file": "/k.pem", "client_secret": null}))
                .validate(),
            Ok(())
        );
        assert_eq!(
            invalid_key(serde_json::json!({"api_version": "61"})),
            "api_version"
        );
        assert_eq!(
            invalid_key(serde_json::json!({"slow_down_at": 1.5})),
            "slow_down_at"
        );
        assert_eq!(
            invalid_key(serde_json::json!({"batch_size": 201})),
            "batch_size"
        );
        assert_eq!(
            invalid_key(serde_json::json!({"fields": {"scroe": "X__c"}})),
            "fields"
        );
    }

    #[test]
    fn objects_and_unmatched_read_as_documented() {
        assert_eq!(sink(serde_json::json!({})).crm.object, TargetObject::Auto);
        assert_eq!(
            sink(serde_json::json!({"object": "Lead"})).crm.object,
            TargetObject::Lead
        );
        assert_eq!(
            sink(serde_json::json!({"unmatched": "skip"})).crm.unmatched,
            Unmatched::Skip
        );
        let bad: Result<SalesforceSink, _> = serde_json::from_value(serde_json::json!({
            "instance_url": "https://a.my.salesforce.com", "client_id": "c", "object": "contact"
        }));
        assert!(bad.is_err());
    }

    #[test]
    fn only_salesforce_account_ids_are_accounts() {
        let sink = sink(serde_json::json!({}));
        assert!(sink.account_addressable("salesforce:0012800000CXn0kAAD"));
        assert!(!sink.account_addressable("salesforce:0035e00000AbCdEAAV"));
        assert!(!sink.account_addressable("hubspot-company:0012800000CXn0k"));
    }

    #[test]
    fn the_pause_follows_the_latest_usage() {
        let sink = sink(serde_json::json!({"concurrency": 1}));
        assert_eq!(sink.pause(), None);
        *sink.crm.state.usage.lock().unwrap() = Some(limits::ApiUsage {
            used: 90_000,
            limit: 100_000,
        });
        assert_eq!(sink.pause(), Some(Duration::from_millis(8640)));
    }
}
