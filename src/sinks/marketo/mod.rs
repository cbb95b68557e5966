//! `kind = "marketo"`: lead fields through Sync Leads, `POST /rest/v1/leads.json` with
//! `"action": "updateOnly"`, at most 300 leads per call.
//!
//! A lead known by its Marketo id (`marketo:<id>`, from the Marketo source) is looked up
//! by `id`, any other by `email`. One call carries one `lookupField`, so a batch holding
//! both becomes two calls. Marketo answers HTTP 200 almost always: a whole-call failure
//! is `"success": false` with `errors[].code` (601/602 token, 606/607/615 limits), and a
//! record it did not write is `"status": "skipped"` with `reasons[]`, in input order
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes).
//!
//! Access tokens come from the Identity endpoint (client credentials, one hour) and are
//! cached; an expired or refused token is renewed once and the call sent again.
//!
//! The settings and registration are here; `auth` gets tokens, `api` makes one REST
//! call and reads what Marketo says of it, `write` sends a batch of leads, `setup`
//! creates the lead fields.

mod api;
mod auth;
mod setup;
#[cfg(test)]
mod tests;
mod write;

use super::delivery::RequestLimiter;
use super::token::TokenCache;
use super::{is_url, Crm, Defaults, Deliver, Outcome, RateLimit, Setup, Sink, SinkError};
use crate::fields::{FieldSpec, Records};
use crate::model::Identity;
use crate::secret::Secret;
use crate::store::OutboxEntry;
use serde::Deserialize;
use std::sync::Arc;

/// Sync Leads takes at most 300 records per call.
const MARKETO_BATCH_LIMIT: usize = 300;
/// Marketo processes at most 10 calls of one instance at a time (code 615 beyond).
const MARKETO_CONCURRENCY_LIMIT: usize = 10;

/// Marketo allows 100 calls per 20 s for the whole instance; the default rate, 10 per
/// 2.5 s, stays under that even right after an idle spell (a full bucket of 10 plus 80
/// refilled in 20 s). After a 606 the sink waits `per_secs`. At most 10 calls may be in
/// flight, a limit shared by every integration of the instance.
const DEFAULTS: Defaults = Defaults {
    max_concurrency: Some(MARKETO_CONCURRENCY_LIMIT),
    ..Defaults::new(MARKETO_BATCH_LIMIT, RateLimit::new(10, 2.5))
};

/// Marketo's own keys of `[sinks.<name>]`; the delivery keys are shared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marketo {
    /// REST API base of the instance, `https://123-ABC-456.mktorest.com` (Admin →
    /// Integration → Web Services, "Endpoint" without `/rest`).
    pub base_url: String,
    /// Identity URL, `https://123-ABC-456.mktorest.com/identity`; `<base_url>/identity`
    /// when not set.
    #[serde(default)]
    pub identity_url: Option<String>,
    /// Client Id of the LaunchPoint custom service (Admin → Integration → LaunchPoint →
    /// View Details).
    pub client_id: String,
    /// Client Secret of the same service.
    pub client_secret: Secret,
    #[serde(skip)]
    state: Arc<State>,
}

pub type MarketoSink = Sink<Marketo>;

/// State kept across batches: the access token and the limiter every call waits on.
#[derive(Debug, Default)]
struct State {
    token: TokenCache<String>,
    limiter: RequestLimiter,
}

/// How a lead is found in Marketo: `("id", 1001)` or `("email", "ann@example.com")`.
fn lookup(identities: &[Identity]) -> Option<(&'static str, serde_json::Value)> {
    let marketo_id = identities.iter().find_map(|identity| match identity {
        Identity::Crm { system, id } if system == "marketo" && !id.is_empty() => Some(id),
        _ => None,
    });
    if let Some(id) = marketo_id {
        // Lead ids are integers; Sync Leads takes them as JSON numbers.
        let value = id
            .parse::<i64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| id.clone().into());
        return Some(("id", value));
    }
    identities.iter().find_map(|identity| match identity {
        Identity::Email(address) => Some(("email", address.clone().into())),
        _ => None,
    })
}

impl Marketo {
    fn base(&self) -> &str {
        let base = self.base_url.trim_end_matches('/');
        base.strip_suffix("/rest").unwrap_or(base)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    fn token_url(&self) -> String {
        match &self.identity_url {
            Some(identity) => format!("{}/oauth/token", identity.trim_end_matches('/')),
            None => self.url("/identity/oauth/token"),
        }
    }
}

impl Crm for Marketo {
    const ACCOUNTS: bool = false;

    fn defaults(&self) -> Defaults {
        DEFAULTS
    }

    /// `attentionScore`, `attentionTrend`, `attentionReasons`, `attentionLastTouchAt`:
    /// `attention_<name>` in the camel case of Marketo's API names.
    fn default_name(spec: &FieldSpec) -> String {
        let mut name = String::from("attention");
        for part in spec.name.split('_').filter(|part| !part.is_empty()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                name.extend(first.to_uppercase());
                name.push_str(chars.as_str());
            }
        }
        name
    }

    fn validate(&self) -> Result<(), (String, String)> {
        if !is_url(&self.base_url) {
            return Err((
                "base_url".into(),
                "must start with https:// or http://".into(),
            ));
        }
        if let Some(identity) = &self.identity_url {
            if !is_url(identity) {
                return Err((
                    "identity_url".into(),
                    "must start with https:// or http://".into(),
                ));
            }
        }
        if self.client_id.trim().is_empty() {
            return Err(("client_id".into(), "must not be empty".into()));
        }
        self.client_secret.require("client_secret")?;
        Ok(())
    }

    fn addressable(&self, identities: &[Identity]) -> bool {
        lookup(identities).is_some()
    }
}

impl Deliver for MarketoSink {
    /// Id-group first, then email-group, one after the other so that in-flight calls
    /// stay within `concurrency`. If the second call fails for a while, the whole batch
    /// is kept: rewriting the first group's values is harmless.
    async fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        self.write(client, records, batch).await
    }

    /// Reads the lead fields (`GET /rest/v1/leads/schema/fields.json`, else Describe
    /// Lead when the API role lacks the schema permissions) and creates the missing
    /// ones in one `POST /rest/v1/leads/schema/fields.json`. Where Marketo does not
    /// let the API create fields, says how to create them in Field Management.
    async fn setup(&self, client: &reqwest::Client, setup: &mut Setup) -> Result<(), SinkError> {
        self.create_fields(client, setup).await
    }
}
