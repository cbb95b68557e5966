//! `kind = "mailchimp"`: Mailchimp Marketing (audience) webhooks.
//!
//! Mailchimp's audience webhooks are not signed. Its "About Webhooks" guide
//! (developer.mailchimp.com/documentation/mailchimp/guides/about-webhooks/) suggests a
//! secret key in the webhook URL, checked as a query parameter: the admin registers
//! `https://<host>/webhooks/<name>?key=<key>`. The same guide says the webhook validator
//! sends a GET to that URL when the webhook is saved, and POSTs carry the data.
//!
//! Bodies are `application/x-www-form-urlencoded`: `type`, `fired_at`
//! (`YYYY-MM-DD HH:MM:SS`) and `data[...]` fields, `data[merges][TAG]` for merge fields
//! (mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).
//!
//! Mailchimp sends no event id. A retry resends the same body, so the id of a delivery
//! is the SHA-256 of its bytes.

use super::{Adapter, Delivery, Reply, SourceError};
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The value that switches a default mapping (or the subscribe touch) off.
const IGNORE: &str = "none";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailchimpSource {
    /// The secret the admin appends to the webhook URL as `?key=<key>`. Every request
    /// (the validator's GET included) must carry it.
    pub key: Secret,
    /// Touch kind recorded when someone subscribes to the audience; `"none"` records
    /// no touch (the profile fields are still read).
    #[serde(default = "default_subscribe_kind")]
    pub subscribe_kind: String,
    /// Merge tag (as Mailchimp sends it, e.g. `COMPANY`; nested parts joined with `.`,
    /// e.g. `ADDRESS.city`) → profile field, added to and overriding the defaults;
    /// `"none"` switches a default off.
    #[serde(default)]
    pub merge_fields: BTreeMap<String, String>,
}

fn default_subscribe_kind() -> String {
    TouchKind::FormSubmit.as_str().to_string()
}

/// Mailchimp's default audience merge fields and the profile fields they fill.
pub const DEFAULT_MERGE_FIELDS: &[(&str, &str)] = &[
    ("FNAME", "first_name"),
    ("LNAME", "last_name"),
    ("PHONE", "phone"),
    ("COMPANY", "company"),
    ("ADDRESS.city", "city"),
    ("ADDRESS.country", "country"),
];

impl MailchimpSource {
    fn subscribe_kind(&self) -> Option<TouchKind> {
        if self.subscribe_kind == IGNORE {
            return None;
        }
        TouchKind::parse(&self.subscribe_kind)
    }

    fn profile_field(&self, tag: &str) -> Option<&str> {
        match self.merge_fields.get(tag) {
            Some(field) if field == IGNORE => None,
            Some(field) => Some(field.as_str()),
            None => DEFAULT_MERGE_FIELDS
                .iter()
                .find(|(default, _)| *default == tag)
                .map(|(_, field)| *field),
        }
    }

    fn check_key(&self, url: &str) -> Result<(), SourceError> {
        let given = query_param(url, "key").ok_or_else(|| {
            SourceError::BadCredentials("missing `key` in the webhook URL".into())
        })?;
        if constant_time_eq(given.as_bytes(), self.key.expose().as_bytes()) {
            Ok(())
        } else {
            Err(SourceError::BadCredentials(
                "wrong `key` in the webhook URL".into(),
            ))
        }
    }
}

/// The first value of `name` in the URL's query string, percent-decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

impl Adapter for MailchimpSource {
    fn validate(&self) -> Result<(), (String, String)> {
        if self.key.expose().is_empty() {
            return Err(("key".into(), "must not be empty".into()));
        }
        if self.subscribe_kind != IGNORE && TouchKind::parse(&self.subscribe_kind).is_none() {
            return Err((
                "subscribe_kind".into(),
                format!(
                    "unknown kind `{}`: expected `none` or one of {}",
                    self.subscribe_kind,
                    TouchKind::names()
                ),
            ));
        }
        for (tag, field) in &self.merge_fields {
            if field.trim().is_empty() {
                return Err((
                    format!("merge_fields.{tag}"),
                    "must name a profile field (e.g. `company`) or be `none`".into(),
                ));
            }
        }
        Ok(())
    }

    /// Mailchimp's validator GETs the webhook URL before saving it. The URL carries the
    /// key, so the key is checked here too: a wrong key fails at setup, not later.
    fn probe(&self, delivery: &Delivery<'_>, _now: Millis) -> Option<Result<Reply, SourceError>> {
        if !matches!(delivery.method, "GET" | "HEAD") {
            return None;
        }
        Some(
            self.check_key(delivery.url)
                .map(|()| Reply::ok("text/plain; charset=utf-8", "")),
        )
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        self.check_key(delivery.url)
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let form = Form::parse(delivery.body);
        let kind = form
            .get("type")
            .ok_or_else(|| SourceError::malformed("form field `type` is missing"))?;
        let fired_at = form
            .get("fired_at")
            .ok_or_else(|| SourceError::malformed("form field `fired_at` is missing"))?;
        let occurred_at = parse_fired_at(fired_at)?;
        let id = hex::encode(Sha256::digest(delivery.body));
        let mut events = Vec::new();
        match kind {
            "subscribe" => {
                let email = form.email("data[email]")?;
                if let Some(kind) = self.subscribe_kind() {
                    events.push(Event {
                        provider_id: id.clone(),
                        body: EventBody::Touch(Touch {
                            who: vec![email.clone()],
                            kind,
                            occurred_at,
                            account: None,
                            properties: form.properties(&[
                                "list_id",
                                "id",
                                "ip_signup",
                                "ip_opt",
                                "email_type",
                            ]),
                        }),
                    });
                }
                events.extend(self.profile(&form, email, occurred_at, format!("{id}:profile")));
            }
            "unsubscribe" | "cleaned" => {
                // Both say "stop": an unsubscribe by the person, a cleaned address by
                // the mail servers (kept with Mailchimp's reason).
                let (kind, fields): (TouchKind, &[&str]) = if kind == "unsubscribe" {
                    (
                        TouchKind::Unsubscribe,
                        &["list_id", "id", "action", "reason", "campaign_id"],
                    )
                } else {
                    (TouchKind::HardBounce, &["list_id", "reason", "campaign_id"])
                };
                events.push(Event {
                    provider_id: id,
                    body: EventBody::Touch(Touch {
                        who: vec![form.email("data[email]")?],
                        kind,
                        occurred_at,
                        account: None,
                        properties: form.properties(fields),
                    }),
                });
            }
            "upemail" => {
                let old = form.email("data[old_email]")?;
                let new = form.email("data[new_email]")?;
                events.push(Event {
                    provider_id: id,
                    body: EventBody::Identify {
                        who: vec![old, new],
                    },
                });
            }
            "profile" => {
                let email = form.email("data[email]")?;
                events.extend(self.profile(&form, email, occurred_at, id));
            }
            // Campaign sending status is about a campaign, not a person; types added
            // later by Mailchimp are acknowledged and skipped the same way.
            _ => {}
        }
        Ok(events)
    }
}

impl MailchimpSource {
    /// The mapped merge fields as a profile, if any has a value.
    fn profile(
        &self,
        form: &Form,
        email: Identity,
        occurred_at: Millis,
        provider_id: String,
    ) -> Option<Event> {
        let mut fields = BTreeMap::new();
        for (tag, value) in form.merges() {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if let Some(field) = self.profile_field(&tag) {
                fields.insert(field.to_string(), value.to_string());
            }
        }
        if fields.is_empty() {
            return None;
        }
        Some(Event {
            provider_id,
            body: EventBody::Profile(Profile {
                who: vec![email],
                fields,
                account: None,
                occurred_at,
            }),
        })
    }
}

/// `fired_at` as Mailchimp writes it, `YYYY-MM-DD HH:MM:SS`, read as UTC.
fn parse_fired_at(text: &str) -> Result<Millis, SourceError> {
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .map(|time| time.and_utc().timestamp_millis())
        .map_err(|_| {
            SourceError::malformed(format!(
                "fired_at `{text}` is not a `YYYY-MM-DD HH:MM:SS` time"
            ))
        })
}

/// The decoded form fields of a body; a repeated field keeps its last value.
struct Form(BTreeMap<String, String>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn email(&self, key: &str) -> Result<Identity, SourceError> {
        match self.get(key).map(str::trim) {
            None | Some("") => Err(SourceError::malformed(format!(
                "form field `{key}` is missing"
            ))),
            Some(address) if !address.contains('@') => Err(SourceError::malformed(format!(
                "form field `{key}` (`{address}`) is not an email address"
            ))),
            Some(address) => Ok(Identity::email(address)),
        }
    }

    /// `data[<name>]` for each name present, as a JSON object.
    fn properties(&self, names: &[&str]) -> Option<serde_json::Value> {
        let map: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .filter_map(|name| {
                let value = self.get(&format!("data[{name}]"))?;
                let key = if *name == "id" { "mailchimp_id" } else { name };
                Some((
                    key.to_string(),
                    serde_json::Value::String(value.to_string()),
                ))
            })
            .collect();
        (!map.is_empty()).then_some(serde_json::Value::Object(map))
    }

    /// `data[merges][A][b]` as (`A.b`, value).
    fn merges(&self) -> impl Iterator<Item = (String, &str)> {
        self.0.iter().filter_map(|(key, value)| {
            let path = key.strip_prefix("data[merges][")?.strip_suffix(']')?;
            Some((
                path.split("][").collect::<Vec<_>>().join("."),
                value.as_str(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "s3cr3t-k3y";
    const URL: &str = "https://attention.example.com/webhooks/mailchimp?key=s3cr3t-k3y";

    fn source() -> MailchimpSource {
        MailchimpSource {
            key: Secret::new(KEY),
            subscribe_kind: default_subscribe_kind(),
            merge_fields: BTreeMap::new(),
        }
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            serializer.append_pair(key, value);
        }
        serializer.finish()
    }

    fn delivery<'a>(method: &'a str, url: &'a str, body: &'a str) -> Delivery<'a> {
        Delivery {
            method,
            url,
            headers: &[],
            body: body.as_bytes(),
        }
    }

    // Sample data of Mailchimp's "About Webhooks" guide (apidocs.mailchimp.com/webhooks,
    // later developer.mailchimp.com/documentation/mailchimp/guides/about-webhooks/).
    const SUBSCRIBE: &[(&str, &str)] = &[
        ("type", "subscribe"),
        ("fired_at", "2009-03-26 21:35:57"),
        ("data[id]", "8a25ff1d98"),
        ("data[list_id]", "a6b5da1054"),
        ("data[email]", "api@mailchimp.com"),
        ("data[email_type]", "html"),
        ("data[merges][EMAIL]", "api@mailchimp.com"),
        ("data[merges][FNAME]", "Mailchimp"),
        ("data[merges][LNAME]", "API"),
        ("data[merges][INTERESTS]", "Group1,Group2"),
        ("data[ip_opt]", "10.20.10.30"),
        ("data[ip_signup]", "10.20.10.30"),
    ];
    // Same guide. It lists `data[reason]` twice; the later value wins, as in PHP.
    const UNSUBSCRIBE: &[(&str, &str)] = &[
        ("type", "unsubscribe"),
        ("fired_at", "2009-03-26 21:40:57"),
        ("data[action]", "unsub"),
        ("data[reason]", "manual"),
        ("data[id]", "8a25ff1d98"),
        ("data[list_id]", "a6b5da1054"),
        ("data[email]", "api+unsub@mailchimp.com"),
        ("data[email_type]", "html"),
        ("data[merges][EMAIL]", "api+unsub@mailchimp.com"),
        ("data[merges][FNAME]", "Mailchimp"),
        ("data[merges][LNAME]", "API"),
        ("data[merges][INTERESTS]", "Group1,Group2"),
        ("data[ip_opt]", "10.20.10.30"),
        ("data[campaign_id]", "cb398d21d2"),
        ("data[reason]", "hard"),
    ];
    const PROFILE: &[(&str, &str)] = &[
        ("type", "profile"),
        ("fired_at", "2009-03-26 21:31:21"),
        ("data[id]", "8a25ff1d98"),
        ("data[list_id]", "a6b5da1054"),
        ("data[email]", "api@mailchimp.com"),
        ("data[email_type]", "html"),
        ("data[merges][EMAIL]", "api@mailchimp.com"),
        ("data[merges][FNAME]", "Mailchimp"),
        ("data[merges][LNAME]", "API"),
        ("data[merges][INTERESTS]", "Group1,Group2"),
        ("data[ip_opt]", "10.20.10.30"),
    ];
    const UPEMAIL: &[(&str, &str)] = &[
        ("type", "upemail"),
        ("fired_at", "2009-03-26 22:15:09"),
        ("data[list_id]", "a6b5da1054"),
        ("data[new_id]", "51da8c3259"),
        ("data[new_email]", "api+new@mailchimp.com"),
        ("data[old_email]", "api+old@mailchimp.com"),
    ];
    const CLEANED: &[(&str, &str)] = &[
        ("type", "cleaned"),
        ("fired_at", "2009-03-26 22:01:00"),
        ("data[list_id]", "a6b5da1054"),
        ("data[campaign_id]", "4fjk2ma9xd"),
        ("data[reason]", "hard"),
        ("data[email]", "api+cleaned@mailchimp.com"),
    ];
    const CAMPAIGN: &[(&str, &str)] = &[
        ("type", "campaign"),
        ("fired_at", "2009-03-26 21:31:21"),
        ("data[id]", "5aa2102003"),
        ("data[subject]", "Test Campaign Subject"),
        ("data[status]", "sent"),
        ("data[reason]", ""),
        ("data[list_id]", "a6b5da1054"),
    ];

    fn normalize_with(
        src: &MailchimpSource,
        pairs: &[(&str, &str)],
    ) -> Result<Vec<Event>, SourceError> {
        let body = form(pairs);
        src.normalize(&delivery("POST", URL, &body))
    }

    fn normalize(pairs: &[(&str, &str)]) -> Result<Vec<Event>, SourceError> {
        normalize_with(&source(), pairs)
    }

    fn at(text: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn the_url_key_decides() {
        let body = form(SUBSCRIBE);
        assert_eq!(source().verify(&delivery("POST", URL, &body), 0), Ok(()));
        let other = "https://attention.example.com/webhooks/mailchimp?list=1&key=s3cr3t-k3y";
        assert_eq!(source().verify(&delivery("POST", other, &body), 0), Ok(()));
        let wrong = "https://attention.example.com/webhooks/mailchimp?key=s3cr3t-k3z";
        assert_eq!(
            source().verify(&delivery("POST", wrong, &body), 0),
            Err(SourceError::BadCredentials(
                "wrong `key` in the webhook URL".into()
            ))
        );
        let missing = "https://attention.example.com/webhooks/mailchimp";
        assert_eq!(
            source().verify(&delivery("POST", missing, &body), 0),
            Err(SourceError::BadCredentials(
                "missing `key` in the webhook URL".into()
            ))
        );
        assert_eq!(SourceError::BadCredentials(String::new()).status(), 401);
        // Percent-encoded keys are compared decoded.
        let src = MailchimpSource {
            key: Secret::new("a b/c"),
            ..source()
        };
        assert_eq!(
            src.verify(
                &delivery("POST", "https://x/webhooks/m?key=a+b%2Fc", &body),
                0
            ),
            Ok(())
        );
    }

    #[test]
    fn the_validator_get_is_answered_only_with_the_key() {
        let src = source();
        let ok = src.probe(&delivery("GET", URL, ""), 0).unwrap().unwrap();
        assert_eq!((ok.status, ok.body.len()), (200, 0));
        assert!(src.probe(&delivery("HEAD", URL, ""), 0).unwrap().is_ok());
        assert!(matches!(
            src.probe(
                &delivery("GET", "https://x/webhooks/mailchimp?key=nope", ""),
                0
            ),
            Some(Err(SourceError::BadCredentials(_)))
        ));
        assert!(src.probe(&delivery("POST", URL, ""), 0).is_none());
    }

    #[test]
    fn a_subscribe_is_a_touch_and_a_profile() {
        let events = normalize(SUBSCRIBE).unwrap();
        assert_eq!(events.len(), 2);
        let EventBody::Touch(touch) = &events[0].body else {
            panic!("{events:?}")
        };
        assert_eq!(touch.kind, TouchKind::FormSubmit);
        assert_eq!(touch.who, vec![Identity::email("api@mailchimp.com")]);
        assert_eq!(touch.occurred_at, at("2009-03-26T21:35:57Z"));
        let properties = touch.properties.as_ref().unwrap();
        assert_eq!(properties["list_id"], "a6b5da1054");
        assert_eq!(properties["mailchimp_id"], "8a25ff1d98");
        assert_eq!(properties["ip_signup"], "10.20.10.30");
        let EventBody::Profile(profile) = &events[1].body else {
            panic!("{events:?}")
        };
        assert_eq!(profile.who, vec![Identity::email("api@mailchimp.com")]);
        assert_eq!(
            profile.fields.get("first_name").map(String::as_str),
            Some("Mailchimp")
        );
        assert_eq!(
            profile.fields.get("last_name").map(String::as_str),
            Some("API")
        );
        assert_eq!(
            profile.fields.len(),
            2,
            "EMAIL and INTERESTS are not profile fields"
        );
        assert_eq!(profile.occurred_at, at("2009-03-26T21:35:57Z"));
        // The id is the hash of the body, so a resend gets the same ids.
        assert_eq!(
            events[0].provider_id,
            hex::encode(Sha256::digest(form(SUBSCRIBE).as_bytes()))
        );
        assert_eq!(
            events[1].provider_id,
            format!("{}:profile", events[0].provider_id)
        );
        assert_eq!(normalize(SUBSCRIBE).unwrap(), events);
    }

    #[test]
    fn the_subscribe_kind_is_configurable() {
        let src = MailchimpSource {
            subscribe_kind: "trial_signup".into(),
            ..source()
        };
        let events = normalize_with(&src, SUBSCRIBE).unwrap();
        assert!(matches!(&events[0].body, EventBody::Touch(t) if t.kind == TouchKind::TrialSignup));
        let src = MailchimpSource {
            subscribe_kind: "none".into(),
            ..source()
        };
        let events = normalize_with(&src, SUBSCRIBE).unwrap();
        assert_eq!(events.len(), 1);
        assert!(matches!(events[0].body, EventBody::Profile(_)));
        let src = MailchimpSource {
            subscribe_kind: "newsletter".into(),
            ..source()
        };
        let (key, reason) = src.validate().unwrap_err();
        assert_eq!(key, "subscribe_kind");
        assert!(reason.contains("form_submit"), "{reason}");
    }

    #[test]
    fn an_unsubscribe_is_a_negative_touch() {
        let events = normalize(UNSUBSCRIBE).unwrap();
        assert_eq!(events.len(), 1);
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::Unsubscribe);
        assert_eq!(touch.who, vec![Identity::email("api+unsub@mailchimp.com")]);
        assert_eq!(touch.occurred_at, at("2009-03-26T21:40:57Z"));
        let properties = touch.properties.as_ref().unwrap();
        assert_eq!(properties["action"], "unsub");
        assert_eq!(properties["reason"], "hard");
        assert_eq!(properties["campaign_id"], "cb398d21d2");
    }

    #[test]
    fn a_cleaned_address_is_a_hard_bounce_with_its_reason() {
        let events = normalize(CLEANED).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::HardBounce);
        assert_eq!(
            touch.who,
            vec![Identity::email("api+cleaned@mailchimp.com")]
        );
        assert_eq!(touch.occurred_at, at("2009-03-26T22:01:00Z"));
        assert_eq!(touch.properties.as_ref().unwrap()["reason"], "hard");
        assert_eq!(
            touch.properties.as_ref().unwrap()["campaign_id"],
            "4fjk2ma9xd"
        );
    }

    #[test]
    fn an_email_change_links_both_addresses() {
        let events = normalize(UPEMAIL).unwrap();
        assert_eq!(
            events[0].body,
            EventBody::Identify {
                who: vec![
                    Identity::email("api+old@mailchimp.com"),
                    Identity::email("api+new@mailchimp.com")
                ]
            }
        );
    }

    #[test]
    fn a_profile_update_maps_merge_fields() {
        let events = normalize(PROFILE).unwrap();
        assert_eq!(events.len(), 1);
        let EventBody::Profile(profile) = &events[0].body else {
            panic!()
        };
        assert_eq!(profile.occurred_at, at("2009-03-26T21:31:21Z"));
        assert_eq!(profile.fields.len(), 2);

        let mut src = source();
        src.merge_fields.insert("LNAME".into(), "none".into());
        src.merge_fields
            .insert("INTERESTS".into(), "lead_source".into());
        src.merge_fields.insert("ROLE".into(), "title".into());
        let mut pairs = PROFILE.to_vec();
        pairs.extend([
            ("data[merges][ROLE]", "CTO"),
            ("data[merges][COMPANY]", "Acme"),
            ("data[merges][PHONE]", ""),
            ("data[merges][ADDRESS][city]", "Atlanta"),
            ("data[merges][ADDRESS][country]", "US"),
        ]);
        let events = normalize_with(&src, &pairs).unwrap();
        let EventBody::Profile(profile) = &events[0].body else {
            panic!()
        };
        let fields: Vec<(&str, &str)> = profile
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("city", "Atlanta"),
                ("company", "Acme"),
                ("country", "US"),
                ("first_name", "Mailchimp"),
                ("lead_source", "Group1,Group2"),
                ("title", "CTO"),
            ]
        );
        src.merge_fields.insert("X".into(), " ".into());
        assert_eq!(src.validate().unwrap_err().0, "merge_fields.X");
    }

    #[test]
    fn a_profile_without_mapped_fields_is_ignored() {
        let pairs: Vec<_> = PROFILE
            .iter()
            .copied()
            .filter(|(k, _)| !k.contains("NAME"))
            .collect();
        assert_eq!(normalize(&pairs).unwrap(), vec![]);
    }

    #[test]
    fn campaign_and_unknown_types_are_ignored() {
        assert_eq!(normalize(CAMPAIGN).unwrap(), vec![]);
        assert_eq!(
            normalize(&[
                ("type", "something_new"),
                ("fired_at", "2024-01-01 00:00:00")
            ])
            .unwrap(),
            vec![]
        );
    }

    #[test]
    fn malformed_deliveries_name_the_field() {
        let reason = |pairs: &[(&str, &str)]| match normalize(pairs) {
            Err(SourceError::Malformed(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(&[("fired_at", "2009-03-26 21:35:57")]).contains("`type`"));
        assert!(reason(&[("type", "subscribe")]).contains("`fired_at`"));
        assert!(
            reason(&[("type", "subscribe"), ("fired_at", "2009-03-26T21:35:57Z")])
                .contains("fired_at")
        );
        assert!(
            reason(&[("type", "subscribe"), ("fired_at", "2009-03-26 21:35:57")])
                .contains("data[email]")
        );
        assert!(reason(&[
            ("type", "cleaned"),
            ("fired_at", "2009-03-26 21:35:57"),
            ("data[email]", "nobody")
        ])
        .contains("not an email address"));
        assert!(reason(&UPEMAIL[..5]).contains("data[old_email]"));
        // Not a form at all.
        let src = source();
        let error = src
            .normalize(&delivery("POST", URL, r#"{"type":"subscribe"}"#))
            .unwrap_err();
        assert!(
            matches!(error, SourceError::Malformed(ref r) if r.contains("`type`")),
            "{error:?}"
        );
    }

    #[test]
    fn an_empty_key_is_refused() {
        let src = MailchimpSource {
            key: Secret::new(""),
            ..source()
        };
        assert_eq!(src.validate().unwrap_err().0, "key");
        assert_eq!(source().validate(), Ok(()));
    }
}
