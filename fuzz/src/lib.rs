//! What the fuzz targets share: a source of each kind, configured as an operator would,
//! and a delivery of any body signed the way its platform signs, so that the fuzzer's
//! bytes reach normalize and not only the signature check.
//!
//! Every answer is checked for what must hold whatever was sent: a refusal is a 4xx
//! with a short reason and no Rust debug text; what is accepted has plausible times,
//! usable identities, and reads back from the JSON the inbox keeps exactly.

use attentiond::config::Config;
use attentiond::model::{Event, EventBody, Identity};
use attentiond::sources::{Delivery, SourceConfig, EARLIEST, LATEST_AHEAD_MILLIS};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use std::sync::OnceLock;

/// 2026-11-23T10:00:00Z: the seeds' times are around it.
pub const NOW: i64 = 1_795_428_000_000;
const HOST: &str = "https://attention.example.com";
pub const SECRET: &str = "fuzz-secret";
pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const SALESFORCE_ORG: &str = "00D5e000000KQ2eEAG";
/// The Segment endpoint a body goes to is picked by its first byte.
pub const SEGMENT_ENDPOINTS: &[&str] = &["", "/v1/batch", "/v1/track", "/v1/identify", "/v1/page"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hubspot,
    Standard,
    Mailchimp,
    Mandrill,
    Marketo,
    Pipedrive,
    Calendly,
    Typeform,
    Zoom,
    Intercom,
    Mapped,
    Segment,
    Salesforce,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::Hubspot,
        Kind::Standard,
        Kind::Mailchimp,
        Kind::Mandrill,
        Kind::Marketo,
        Kind::Pipedrive,
        Kind::Calendly,
        Kind::Typeform,
        Kind::Zoom,
        Kind::Intercom,
        Kind::Mapped,
        Kind::Segment,
        Kind::Salesforce,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hubspot => "hubspot",
            Kind::Standard => "standard",
            Kind::Mailchimp => "mailchimp",
            Kind::Mandrill => "mandrill",
            Kind::Marketo => "marketo",
            Kind::Pipedrive => "pipedrive",
            Kind::Calendly => "calendly",
            Kind::Typeform => "typeform",
            Kind::Zoom => "zoom",
            Kind::Intercom => "intercom",
            Kind::Mapped => "mapped",
            Kind::Segment => "segment",
            Kind::Salesforce => "salesforce",
        }
    }

    /// The settings of this kind, as a `[sources.<kind>]` table.
    fn settings(self) -> String {
        let name = self.name();
        let own = match self {
            Kind::Hubspot => format!("client_secret = \"{SECRET}\""),
            Kind::Standard => format!("secret = \"{STANDARD_SECRET}\""),
            Kind::Mailchimp => format!("key = \"{SECRET}\""),
            Kind::Salesforce => {
                format!("organization_id = \"{SALESFORCE_ORG}\"\ntoken = \"{SECRET}\"")
            }
            Kind::Mandrill => format!("webhook_key = \"{SECRET}\""),
            Kind::Marketo => format!("secret = \"{SECRET}\""),
            Kind::Pipedrive => format!("username = \"pipedrive\"\npassword = \"{SECRET}\""),
            Kind::Calendly => format!("signing_key = \"{SECRET}\""),
            Kind::Typeform => format!("secret = \"{SECRET}\""),
            Kind::Zoom => format!("secret_token = \"{SECRET}\""),
            Kind::Intercom => format!("client_secret = \"{SECRET}\""),
            Kind::Segment => format!("secret = \"{SECRET}\"\nkey = \"{SECRET}\""),
            Kind::Mapped => format!(
                "[sources.{name}.auth]\nscheme = \"bearer\"\nsecret = \"{SECRET}\"\n\
                 [sources.{name}.fields]\nevent_id = \"/id\"\nemail = \"/email\"\n\
                 anonymous_id = \"/visitor\"\nkind_field = \"/action\"\noccurred_at = \"/at\"\n\
                 [sources.{name}.kinds]\n\"trial.started\" = \"trial_signup\"\n\
                 \"demo\" = \"demo_request\"\n\
                 [sources.{name}.profile]\ncompany = \"/company\"\ntitle = \"/person/title\""
            ),
        };
        // The mapped source's own tables come after its kind.
        format!("[sources.{name}]\nkind = \"{name}\"\n{own}\n")
    }
}

/// The configured source of `kind`, built once.
pub fn source(kind: Kind) -> &'static SourceConfig {
    static SOURCES: OnceLock<Vec<SourceConfig>> = OnceLock::new();
    let all = SOURCES.get_or_init(|| {
        Kind::ALL
            .iter()
            .map(|kind| {
                let config = Config::from_toml(&kind.settings())
                    .unwrap_or_else(|error| panic!("{}: {error}", kind.name()));
                config
                    .sources
                    .get(kind.name())
                    .cloned()
                    .unwrap_or_else(|| panic!("{} is configured", kind.name()))
            })
            .collect()
    });
    let index = Kind::ALL
        .iter()
        .position(|known| *known == kind)
        .unwrap_or_else(|| unreachable!("every kind is in ALL"));
    &all[index]
}

fn hmac_sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes())
        .unwrap_or_else(|_| unreachable!("any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The URL and headers with which `kind`'s platform would send `body`.
pub fn sign(kind: Kind, body: &[u8]) -> (String, Vec<(String, String)>) {
    let name = kind.name();
    let url = format!("{HOST}/webhooks/{name}");
    let seconds = (NOW / 1000).to_string();
    let header = |key: &str, value: String| (key.to_string(), value);
    match kind {
        Kind::Hubspot => {
            let millis = NOW.to_string();
            let signature = STANDARD.encode(hmac_sha256(&[
                b"POST",
                url.as_bytes(),
                body,
                millis.as_bytes(),
            ]));
            (
                url,
                vec![
                    header("x-hubspot-signature-v3", signature),
                    header("x-hubspot-request-timestamp", millis),
                ],
            )
        }
        Kind::Standard => {
            let key = STANDARD
                .decode(STANDARD_SECRET.trim_start_matches("whsec_"))
                .unwrap_or_else(|_| unreachable!("the secret is base64"));
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key)
                .unwrap_or_else(|_| unreachable!("any key length"));
            for part in [b"msg_fuzz.".as_slice(), seconds.as_bytes(), b".", body] {
                mac.update(part);
            }
            let signature = STANDARD.encode(mac.finalize().into_bytes());
            (
                url,
                vec![
                    header("webhook-id", "msg_fuzz".into()),
                    header("webhook-timestamp", seconds),
                    header("webhook-signature", format!("v1,{signature}")),
                ],
            )
        }
        Kind::Mailchimp => (format!("{url}?key={SECRET}"), Vec::new()),
        Kind::Salesforce => (format!("{url}?token={SECRET}"), Vec::new()),
        Kind::Mandrill => {
            let mut params: Vec<(String, String)> = form_urlencoded::parse(body)
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect();
            params.sort_by(|a, b| a.0.cmp(&b.0));
            let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
            for (key, value) in &params {
                parts.push(key.as_bytes());
                parts.push(value.as_bytes());
            }
            let signature = STANDARD.encode(hmac_sha1(SECRET.as_bytes(), &parts));
            (url, vec![header("x-mandrill-signature", signature)])
        }
        Kind::Marketo => (url, vec![header("x-attentiond-secret", SECRET.into())]),
        Kind::Pipedrive => {
            let basic = STANDARD.encode(format!("pipedrive:{SECRET}"));
            (url, vec![header("authorization", format!("Basic {basic}"))])
        }
        Kind::Calendly => {
            let signature = hex::encode(hmac_sha256(&[seconds.as_bytes(), b".", body]));
            (
                url,
                vec![header(
                    "calendly-webhook-signature",
                    format!("t={seconds},v1={signature}"),
                )],
            )
        }
        Kind::Typeform => {
            let signature = STANDARD.encode(hmac_sha256(&[body]));
            (
                url,
                vec![header("typeform-signature", format!("sha256={signature}"))],
            )
        }
        Kind::Zoom => {
            let signature = hex::encode(hmac_sha256(&[b"v0:", seconds.as_bytes(), b":", body]));
            (
                url,
                vec![
                    header("x-zm-signature", format!("v0={signature}")),
                    header("x-zm-request-timestamp", seconds),
                ],
            )
        }
        Kind::Intercom => {
            let signature = hex::encode(hmac_sha1(SECRET.as_bytes(), &[body]));
            (
                url,
                vec![header("x-hub-signature", format!("sha1={signature}"))],
            )
        }
        Kind::Mapped => (
            url,
            vec![header("authorization", format!("bearer {SECRET}"))],
        ),
        Kind::Segment => {
            let signature = hex::encode(hmac_sha1(SECRET.as_bytes(), &[body]));
            let basic = STANDARD.encode(format!("{SECRET}:"));
            (
                url,
                vec![
                    header("x-signature", signature),
                    header("authorization", format!("Basic {basic}")),
                ],
            )
        }
    }
}

/// Delivers `data` to the source of `kind`, signed, and checks the answer.
pub fn deliver(kind: Kind, data: &[u8]) {
    let (path, body) = match kind {
        Kind::Segment => match data.split_first() {
            Some((first, rest)) => (
                SEGMENT_ENDPOINTS[usize::from(*first) % SEGMENT_ENDPOINTS.len()],
                rest,
            ),
            None => return,
        },
        _ => ("", data),
    };
    let source = source(kind);
    let (mut url, headers) = sign(kind, body);
    url.insert_str(url.find('?').unwrap_or(url.len()), path);
    let delivery = Delivery {
        method: "POST",
        url: &url,
        headers: &headers,
        body,
    };
    if let Some(probed) = source.probe(&delivery, NOW) {
        if let Err(error) = probed {
            check_refusal(kind, body, &error.to_string(), error.status());
        }
        return;
    }
    match source.accept(&delivery, NOW) {
        Ok(accepted) => check_events(kind, accepted.events()),
        Err(error) => check_refusal(kind, body, &error.to_string(), error.status()),
    }
}

/// A refusal is a 4xx with a short reason; the reason has Rust's debug text only where
/// it quotes the body that had it.
fn check_refusal(kind: Kind, body: &[u8], reason: &str, status: u16) {
    let sent = String::from_utf8_lossy(body);
    assert!(
        matches!(status, 400 | 401 | 413),
        "{}: status {status} for {reason}",
        kind.name()
    );
    assert!(
        reason.len() <= 600,
        "{}: a reason of {} bytes",
        kind.name(),
        reason.len()
    );
    for debug in [
        "Some(",
        "None",
        "Ok(",
        "Err(",
        "expected struct",
        "expected enum",
        "expected tuple",
    ] {
        assert!(
            !reason.contains(debug) || sent.contains(debug),
            "{}: Rust debug text in {reason}",
            kind.name()
        );
    }
}

fn check_events(kind: Kind, events: &[Event]) {
    for event in events {
        let (who, at): (Vec<&Identity>, Option<i64>) = match &event.body {
            EventBody::Touch(touch) => (touch.who.iter().collect(), Some(touch.occurred_at)),
            EventBody::Identify { who } => (who.iter().collect(), None),
            EventBody::Merge { into, from } => (std::iter::once(into).chain(from).collect(), None),
            EventBody::Erase { who } => (vec![who], None),
            EventBody::Outcome(outcome) => {
                (outcome.who.iter().collect(), Some(outcome.occurred_at))
            }
            EventBody::Profile(profile) => {
                (profile.who.iter().collect(), Some(profile.occurred_at))
            }
        };
        if let Some(at) = at {
            assert!(
                (EARLIEST..=NOW + LATEST_AHEAD_MILLIS).contains(&at),
                "{}: time {at} accepted",
                kind.name()
            );
        }
        for identity in who {
            assert_eq!(
                identity.problem(),
                None,
                "{}: {identity:?} accepted",
                kind.name()
            );
        }
    }
    // The inbox keeps the events as JSON; the pipeline must read back what was meant.
    let stored = serde_json::to_vec(events)
        .unwrap_or_else(|error| panic!("{}: events do not serialize: {error}", kind.name()));
    let read: Vec<Event> = serde_json::from_slice(&stored)
        .unwrap_or_else(|error| panic!("{}: stored events do not read: {error}", kind.name()));
    assert_eq!(read, events, "{}: events change through JSON", kind.name());
}
