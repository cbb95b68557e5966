//! `kind = "pipedrive"`: Pipedrive webhooks, v2 (`meta`/`data`/`previous`) and v1
//! (`meta`/`current`/`previous`).
//!
//! Pipedrive does not sign webhooks; a webhook can carry HTTP Basic credentials
//! (`http_auth_user`/`http_auth_password`), which we check in constant time
//! (pipedrive.readme.io/docs/guide-for-webhooks-v2).
//!
//! v2: `meta.id` is the id of the event that triggered the webhook; a retry repeats it
//! with a higher `meta.attempt` (1–4), so it is the delivery id. `meta.timestamp` is an
//! ISO time (a 10-digit epoch on some entities). `previous` holds only the changed
//! fields on `change`, the last state on `delete`, null on `create`
//! (pipedrive.readme.io/docs/webhooks-v2-migration-guide). v1 has no event id: we use
//! object, object id, action and `meta.timestamp_micro` (else `meta.timestamp`).

use super::delivery::{Adapter, Credentials, Delivery, Head, SourceError};
use super::kind_table;
use crate::model::{
    Event, EventBody, Identity, Millis, Outcome, OutcomeKind, Profile, Touch, TouchKind,
};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use change::{entries, id_text, string, Action, Change};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

mod change;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipedriveSource {
    /// The HTTP Basic auth username set on the webhook (`http_auth_user`).
    pub username: String,
    /// The HTTP Basic auth password set on the webhook (`http_auth_password`).
    pub password: Secret,
    /// Activity type (its key, e.g. `call`) → touch kind, added to and overriding the
    /// defaults; `"none"` switches a default off.
    #[serde(default)]
    pub activity_types: BTreeMap<String, String>,
}

/// Pipedrive's built-in activity types and what a done one means.
pub const DEFAULT_ACTIVITY_TYPES: &[(&str, TouchKind)] = &[
    ("call", TouchKind::Call),
    ("meeting", TouchKind::MeetingAttended),
    ("email", TouchKind::EmailReply),
];

impl PipedriveSource {
    fn kind_for(&self, activity_type: &str) -> Option<TouchKind> {
        kind_table::kind_for(
            &self.activity_types,
            DEFAULT_ACTIVITY_TYPES,
            activity_type,
            |a, b| a == b,
        )
    }
}

impl Adapter for PipedriveSource {
    fn validate(&self) -> Result<(), (String, String)> {
        if self.username.is_empty() || self.username.contains(':') {
            return Err(("username".into(), "must not be empty or contain `:`".into()));
        }
        self.password.require("password")?;
        kind_table::check("activity_types", &self.activity_types)
    }

    fn authenticate(&self, head: &Head<'_>, _now: Millis) -> Result<Credentials, SourceError> {
        self.check_basic(head).map(|()| Credentials::Checked)
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        self.check_basic(&delivery.head())
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let body: Map<String, Value> = serde_json::from_slice(delivery.body).map_err(|error| {
            SourceError::malformed(format!("expected a Pipedrive webhook JSON object: {error}"))
        })?;
        let change = Change::read(&body)?;
        match (change.entity.as_str(), change.action) {
            (_, Action::Delete) => Ok(Vec::new()),
            ("person", _) => self.person(&change),
            ("activity", _) => self.activity(&change),
            ("deal", _) => self.deal(&change),
            _ => Ok(Vec::new()),
        }
    }
}

impl PipedriveSource {
    /// HTTP Basic credentials, both parts compared in constant time.
    fn check_basic(&self, head: &Head<'_>) -> Result<(), SourceError> {
        let authorization = head.require_header("Authorization")?.trim();
        let refused =
            || SourceError::BadCredentials("wrong Basic auth username or password".into());
        let (scheme, encoded) = authorization
            .split_once(' ')
            .ok_or_else(|| SourceError::BadCredentials("Authorization is not HTTP Basic".into()))?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(SourceError::BadCredentials(
                "Authorization is not HTTP Basic".into(),
            ));
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| refused())?;
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return Err(refused());
        };
        let user_ok = constant_time_eq(&decoded[..colon], self.username.as_bytes());
        let password_ok =
            constant_time_eq(&decoded[colon + 1..], self.password.expose().as_bytes());
        if user_ok & password_ok {
            Ok(())
        } else {
            Err(refused())
        }
    }
}

fn person(id: impl Into<String>) -> Identity {
    Identity::crm("pipedrive", id)
}

impl PipedriveSource {
    fn person(&self, change: &Change) -> Result<Vec<Event>, SourceError> {
        let id = change.id()?;
        let data = &change.data;
        let mut who = vec![person(id.clone())];
        // v2 `emails`, v1 `email`: [{value, primary, label}], primary first.
        let mut emails = entries(data.get("emails").or_else(|| data.get("email")));
        emails.sort_by_key(|(_, primary)| !primary);
        for (address, _) in emails {
            // The person's id names them too: an unusable address is left out.
            if let Ok(identity) = Identity::checked_email(&address) {
                if !who.contains(&identity) {
                    who.push(identity);
                }
            }
        }
        let mut fields = BTreeMap::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
            {
                fields.insert(name.to_string(), value);
            }
        };
        let first = string(data.get("first_name"));
        let last = string(data.get("last_name"));
        if first.is_none() && last.is_none() {
            if let Some(name) = string(data.get("name")) {
                let mut parts = name.trim().splitn(2, char::is_whitespace);
                put("first_name", parts.next().map(str::to_string));
                put("last_name", parts.next().map(str::to_string));
            }
        } else {
            put("first_name", first);
            put("last_name", last);
        }
        let mut phones = entries(data.get("phones").or_else(|| data.get("phone")));
        phones.sort_by_key(|(_, primary)| !primary);
        put("phone", phones.into_iter().next().map(|(value, _)| value));
        put("title", string(data.get("job_title")));
        put("company", string(data.get("org_name")));

        let occurred_at = change.time(&["update_time", "add_time"])?;
        let mut events = Vec::new();
        if let Some(from) = change.merged_from.as_ref().filter(|from| **from != id) {
            events.push(Event {
                provider_id: format!("{}:merge", change.event_id),
                body: EventBody::Merge {
                    into: person(id.clone()),
                    from: vec![person(from.clone())],
                },
            });
        }
        events.push(Event {
            provider_id: change.event_id.clone(),
            body: EventBody::Profile(Profile {
                who,
                fields,
                account: change.account(),
                occurred_at,
            }),
        });
        Ok(events)
    }

    fn activity(&self, change: &Change) -> Result<Vec<Event>, SourceError> {
        let data = &change.data;
        let done = data.get("done") == Some(&Value::Bool(true))
            || data.get("done") == Some(&Value::from(1));
        let became_done = match change.action {
            Action::Create => done,
            _ => done && change.changed("done"),
        };
        if !became_done {
            return Ok(Vec::new());
        }
        let Some(activity_type) = string(data.get("type")) else {
            return Ok(Vec::new());
        };
        let Some(kind) = self.kind_for(&activity_type) else {
            return Ok(Vec::new());
        };
        let Some(person_id) = id_text(data.get("person_id")) else {
            return Ok(Vec::new());
        };
        let mut properties = Map::new();
        properties.insert("activity_id".into(), Value::String(change.id()?));
        properties.insert("type".into(), Value::String(activity_type));
        if let Some(subject) = string(data.get("subject")).filter(|s| !s.is_empty()) {
            properties.insert("subject".into(), Value::String(subject));
        }
        if let Some(deal) = id_text(data.get("deal_id")) {
            properties.insert("deal_id".into(), Value::String(deal));
        }
        Ok(vec![Event {
            provider_id: change.event_id.clone(),
            body: EventBody::Touch(Touch {
                who: vec![person(person_id)],
                kind,
                // v1 says when it was marked done; v2 only when the change happened.
                occurred_at: change.time(&["marked_as_done_time"])?,
                account: change.account(),
                properties: Some(Value::Object(properties)),
            }),
        }])
    }

    fn deal(&self, change: &Change) -> Result<Vec<Event>, SourceError> {
        let data = &change.data;
        let deal_id = change.id()?;
        let status = string(data.get("status"));
        let mut kinds = Vec::new();
        if change.action == Action::Create {
            kinds.push((OutcomeKind::OpportunityCreated, change.time(&["add_time"])?));
        } else {
            if change.changed("status") {
                match status.as_deref() {
                    Some("won") => {
                        kinds.push((OutcomeKind::Won, change.time(&["won_time", "close_time"])?))
                    }
                    Some("lost") => kinds.push((
                        OutcomeKind::Lost,
                        change.time(&["lost_time", "close_time"])?,
                    )),
                    _ => {}
                }
            }
            if change.changed("stage_id") {
                kinds.push((
                    OutcomeKind::StageChanged,
                    change.time(&["stage_change_time"])?,
                ));
            }
        }
        let who: Vec<Identity> = id_text(data.get("person_id"))
            .map(person)
            .into_iter()
            .collect();
        // Text such as `NaN` or `inf` parses as a number but is no amount.
        let amount = match data.get("value") {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|amount| amount.is_finite());
        Ok(kinds
            .into_iter()
            .map(|(kind, occurred_at)| Event {
                provider_id: format!("{}:{}", change.event_id, kind.as_str()),
                body: EventBody::Outcome(Outcome {
                    who: who.clone(),
                    account: change.account(),
                    kind,
                    opportunity: Some(format!("pipedrive:{deal_id}")),
                    stage: id_text(data.get("stage_id")),
                    amount,
                    currency: string(data.get("currency")).filter(|c| !c.is_empty()),
                    occurred_at,
                    ..Default::default()
                }),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
