//! What no platform can mean, refused for every source after it has normalized a
//! delivery: times before 2000 or more than a day ahead of our clock (an unset date
//! sent as `-1` or `0`, a year typed wrong), and identities that cannot name anyone (an
//! address with a control character, no domain or an absurd length).
//!
//! An event that names someone validly keeps its valid identities and loses the others;
//! an event whose every identity is invalid is refused, and so is the delivery, with
//! the reason, before anything is stored.

use super::delivery::SourceError;
use crate::model::{Event, EventBody, Identity, Millis};

/// 2000-01-01T00:00:00Z: no platform we read existed before, and a date before it is
/// an unset value (`0`, `-1`) or a typing error.
pub const EARLIEST: Millis = 946_684_800_000;
/// How far ahead of our clock a time may be: a day covers clocks set wrong by a time
/// zone; anything further is not something that happened.
pub const LATEST_AHEAD_MILLIS: Millis = 86_400_000;

/// At most this many bytes of a value sent to us are repeated in an answer or a log
/// line.
pub const EXCERPT_BYTES: usize = 200;

/// `text` as it may be quoted back: at most [`EXCERPT_BYTES`], cut on a character, with
/// control characters escaped (`\n`, `\u{0}`) so that a log line stays one line.
pub fn excerpt(text: &str) -> String {
    let mut cut = text.len().min(EXCERPT_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut shown = String::with_capacity(cut + 3);
    for c in text[..cut].chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if cut < text.len() {
        shown.push('…');
    }
    shown
}

/// An email from the field `field` of a payload, or why it is none.
pub fn email_at(field: &str, text: &str) -> Result<Identity, SourceError> {
    Identity::checked_email(text).map_err(|error| {
        SourceError::malformed(format!(
            "{field} `{}` is not an email address: it {error}",
            excerpt(text.trim())
        ))
    })
}

pub fn check(events: Vec<Event>, now: Millis) -> Result<Vec<Event>, SourceError> {
    events
        .into_iter()
        .map(|event| {
            let id = excerpt(&event.provider_id);
            if let Some(at) = occurred_at(&event.body) {
                check_time(at, now).map_err(|why| {
                    SourceError::malformed(format!("event `{id}`: its time {why}"))
                })?;
            }
            let body = identities(event.body).map_err(|why| {
                SourceError::malformed(format!("event `{id}` names nobody usable: {why}"))
            })?;
            Ok(Event {
                provider_id: event.provider_id,
                body,
            })
        })
        .collect()
}

fn occurred_at(body: &EventBody) -> Option<Millis> {
    match body {
        EventBody::Touch(touch) => Some(touch.occurred_at),
        EventBody::Outcome(outcome) => Some(outcome.occurred_at),
        EventBody::Profile(profile) => Some(profile.occurred_at),
        EventBody::Identify { .. } | EventBody::Merge { .. } | EventBody::Erase { .. } => None,
    }
}

fn check_time(at: Millis, now: Millis) -> Result<(), String> {
    if at < EARLIEST {
        Err(format!("{} is before 2000-01-01", shown(at)))
    } else if at > now.saturating_add(LATEST_AHEAD_MILLIS) {
        Err(format!("{} is more than a day ahead of now", shown(at)))
    } else {
        Ok(())
    }
}

fn shown(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{at} ms"))
}

/// The valid ones among `who`; an error when there were some and none is valid.
fn usable(who: Vec<Identity>) -> Result<Vec<Identity>, String> {
    if who.is_empty() {
        return Ok(who);
    }
    let mut first_problem = None;
    let kept: Vec<Identity> = who
        .into_iter()
        .filter(|identity| match identity.problem() {
            Some(problem) => {
                first_problem.get_or_insert(problem);
                false
            }
            None => true,
        })
        .collect();
    match (kept.is_empty(), first_problem) {
        (true, Some(problem)) => Err(problem),
        _ => Ok(kept),
    }
}

fn one(who: Identity) -> Result<Identity, String> {
    match who.problem() {
        Some(problem) => Err(problem),
        None => Ok(who),
    }
}

fn identities(body: EventBody) -> Result<EventBody, String> {
    Ok(match body {
        EventBody::Touch(mut touch) => {
            touch.who = usable(touch.who)?;
            EventBody::Touch(touch)
        }
        EventBody::Identify { who } => EventBody::Identify { who: usable(who)? },
        EventBody::Merge { into, from } => EventBody::Merge {
            into: one(into)?,
            from: usable(from)?,
        },
        EventBody::Erase { who } => EventBody::Erase { who: one(who)? },
        EventBody::Outcome(mut outcome) => {
            outcome.who = usable(outcome.who)?;
            EventBody::Outcome(outcome)
        }
        EventBody::Profile(mut profile) => {
            profile.who = usable(profile.who)?;
            EventBody::Profile(profile)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Touch, TouchKind};

    const NOW: Millis = 1_790_000_000_000;

    fn touch(who: Vec<Identity>, occurred_at: Millis) -> Event {
        Event {
            provider_id: "e1".into(),
            body: EventBody::Touch(Touch {
                who,
                kind: TouchKind::EmailOpen,
                occurred_at,
                account: None,
                properties: None,
            }),
        }
    }

    #[test]
    fn times_before_2000_or_past_tomorrow_are_refused() {
        let ann = || vec![Identity::email("ann@example.com")];
        // HubSpot's `-1` for an unset date.
        let error = check(vec![touch(ann(), -1)], NOW).unwrap_err();
        assert_eq!(
            error.to_string(),
            "malformed payload: event `e1`: its time 1969-12-31T23:59:59.999Z is before 2000-01-01"
        );
        assert!(check(vec![touch(ann(), EARLIEST - 1)], NOW).is_err());
        assert!(check(vec![touch(ann(), EARLIEST)], NOW).is_ok());
        assert!(check(vec![touch(ann(), NOW + LATEST_AHEAD_MILLIS)], NOW).is_ok());
        let ahead = check(vec![touch(ann(), NOW + LATEST_AHEAD_MILLIS + 1)], NOW).unwrap_err();
        assert!(
            ahead.to_string().contains("more than a day ahead"),
            "{ahead}"
        );
        assert!(check(vec![touch(ann(), i64::MIN)], NOW).is_err());
        assert!(check(vec![touch(ann(), i64::MAX)], i64::MAX).is_ok());
    }

    #[test]
    fn an_invalid_identity_is_dropped_beside_a_valid_one_and_refused_alone() {
        let nul = Identity::Email("ann\0@example.com".into());
        let kept = check(
            vec![touch(
                vec![Identity::crm("hubspot", "51"), nul.clone()],
                NOW,
            )],
            NOW,
        )
        .unwrap();
        let EventBody::Touch(touch_kept) = &kept[0].body else {
            panic!("a touch")
        };
        assert_eq!(touch_kept.who, vec![Identity::crm("hubspot", "51")]);
        let error = check(vec![touch(vec![nul], NOW)], NOW).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(
            error
                .to_string()
                .contains("names nobody usable: the email address has a control character"),
            "{error}"
        );
        let erase = Event {
            provider_id: "e2".into(),
            body: EventBody::Erase {
                who: Identity::crm("hubspot", "x\ny"),
            },
        };
        assert!(check(vec![erase], NOW).is_err());
    }

    #[test]
    fn excerpts_are_short_single_lines() {
        assert_eq!(excerpt("a\r\nb"), "a\\r\\nb");
        let long = "é".repeat(1000);
        let shown = excerpt(&long);
        assert!(
            shown.len() <= EXCERPT_BYTES + '…'.len_utf8(),
            "{}",
            shown.len()
        );
        assert!(shown.ends_with('…'));
        assert_eq!(
            email_at("data.email", "a@b").unwrap_err().to_string(),
            "malformed payload: data.email `a@b` is not an email address: it has a domain without a dot"
        );
    }
}
