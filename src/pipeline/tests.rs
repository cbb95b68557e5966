//! The pipeline applied to a real store: the account line reaching every member and
//! running out, and a rescore counting each queued contact once.

use super::{apply_deliveries, refresh, Context};
use crate::fields::Recipients;
use crate::model::MILLIS_PER_DAY;
use crate::model::{Event, EventBody, Identity, Millis, Touch, TouchKind};
use crate::scoring::ScoringConfig;
use crate::store::{InboxEntry, Store};

const DAY: Millis = MILLIS_PER_DAY as Millis;
/// Monday 2026-11-16 00:00 UTC.
const MONDAY: Millis = 1_795_219_200_000;

fn meeting(n: u64, email: &str, at: Millis) -> (u64, InboxEntry) {
    let event = Event {
        provider_id: format!("m{n}"),
        body: EventBody::Touch(Touch {
            who: vec![Identity::email(email)],
            kind: TouchKind::MeetingBooked,
            occurred_at: at,
            account: None,
            properties: None,
        }),
    };
    let entry = InboxEntry {
        source: "standard".into(),
        received_at: at,
        events: vec![event],
    };
    (n, entry)
}

fn reasons(store: &Store, email: &str) -> Vec<String> {
    let id = store
        .contact_id_for(&Identity::email(email))
        .unwrap()
        .unwrap();
    let contact = store.contact(id).unwrap().unwrap();
    contact.visible.unwrap().reasons
}

#[test]
fn a_rescore_counts_each_queued_contact_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_when_free(&dir.path().join("data")).unwrap();
    let sinks = Recipients::new();
    let before = ScoringConfig::default();
    let context = |scoring| Context {
        store: &store,
        scoring,
        sinks: &sinks,
        now: MONDAY + DAY,
    };
    apply_deliveries(
        &context(&before),
        &[
            meeting(1, "ann@acme.com", MONDAY),
            meeting(2, "bo@acme.com", MONDAY),
        ],
    )
    .unwrap();
    assert_eq!(
        reasons(&store, "ann@acme.com")[0],
        "2 people from acme.com engaged this week"
    );
    // A meeting now weighs too little to make anyone engaged: both scores change
    // in the pass, then the line goes and both are queued again.
    let mut after = ScoringConfig::default();
    after.weights.insert(TouchKind::MeetingBooked, 1.0);
    let done = crate::pipeline::rescore::rescore(&context(&after), |_, _| {}).unwrap();
    assert!(!reasons(&store, "ann@acme.com")[0].contains("engaged this week"));
    assert_eq!((done.contacts, done.touches, done.queued), (2, 2, 2));
    let ann = store
        .contact(
            store
                .contact_id_for(&Identity::email("ann@acme.com"))
                .unwrap()
                .unwrap(),
        )
        .unwrap()
        .unwrap();
    let change = ann.stage_history.last().unwrap();
    assert_eq!(change.at, MONDAY + DAY);
    let version = crate::scoring::version(&after);
    assert!(
        change
            .reason
            .ends_with(&format!("; rescored under scoring version {version}")),
        "{:?}",
        ann.stage_history
    );
}

/// One pass over changed account lines, as the pipeline makes between rounds; the
/// contacts it queued.
fn take_lines(context: &Context<'_>) -> usize {
    let mut round = context.store.round();
    let (queued, _) = super::accounts::take_lines(context, &mut round, 512, false).unwrap();
    round.commit(None).unwrap();
    queued.len()
}

#[test]
fn a_changed_line_reaches_idle_members_at_most_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_when_free(&dir.path().join("data")).unwrap();
    let scoring = ScoringConfig::default();
    let sinks = Recipients::new();
    let at = |now| Context {
        store: &store,
        scoring: &scoring,
        sinks: &sinks,
        now,
    };
    let people = ["ann", "bo", "cy", "di"].map(|name| format!("{name}@acme.com"));
    apply_deliveries(&at(MONDAY), &[meeting(1, &people[0], MONDAY)]).unwrap();
    apply_deliveries(&at(MONDAY), &[meeting(2, &people[1], MONDAY)]).unwrap();
    // Bo's own record carries the first line at once; Ann, who did nothing since,
    // waits for the interval like for any other change.
    assert_eq!(
        reasons(&store, &people[1])[0],
        "2 people from acme.com engaged this week"
    );
    assert_eq!(take_lines(&at(MONDAY)), 0);
    assert!(!reasons(&store, &people[0])
        .iter()
        .any(|reason| reason.contains("engaged this week")));
    // Cy and Di a few minutes later change the line twice: each hears it in their
    // own record; Ann and Bo hear it once, when the interval is over.
    let soon = MONDAY + 5 * 60_000;
    apply_deliveries(&at(soon), &[meeting(3, &people[2], soon)]).unwrap();
    apply_deliveries(&at(soon), &[meeting(4, &people[3], soon)]).unwrap();
    assert_eq!(
        reasons(&store, &people[3])[0],
        "4 people from acme.com engaged this week"
    );
    assert_eq!(take_lines(&at(soon)), 0, "within the interval");
    let hour = MONDAY + 3_600_000;
    assert_eq!(take_lines(&at(hour)), 3, "Ann, Bo, and Cy who saw three");
    for person in &people {
        assert_eq!(
            reasons(&store, person)[0],
            "4 people from acme.com engaged this week"
        );
    }
    // Nothing changed since: nobody is queued again.
    assert_eq!(take_lines(&at(hour + 7_200_000)), 0);
}

#[test]
fn the_account_line_reaches_every_member_and_runs_out_after_a_week() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_when_free(&dir.path().join("data")).unwrap();
    let scoring = ScoringConfig::default();
    let sinks = Recipients::new();
    let at = |now| Context {
        store: &store,
        scoring: &scoring,
        sinks: &sinks,
        now,
    };
    let line = "2 people from acme.com engaged this week";
    apply_deliveries(&at(MONDAY), &[meeting(1, "ann@acme.com", MONDAY)]).unwrap();
    assert!(!reasons(&store, "ann@acme.com").contains(&line.to_string()));
    // Bo's meeting makes two: Bo's own record says so at once; Ann, though nothing
    // of hers changed, is told when the changed line is taken to the members.
    let tuesday = MONDAY + DAY;
    apply_deliveries(&at(tuesday), &[meeting(2, "bo@acme.com", tuesday)]).unwrap();
    assert_eq!(reasons(&store, "bo@acme.com")[0], line);
    assert!(!reasons(&store, "ann@acme.com").contains(&line.to_string()));
    assert_eq!(
        take_lines(&at(tuesday)),
        0,
        "the line's interval starts now"
    );
    let tuesday_later = tuesday + 3_600_000;
    assert_eq!(
        take_lines(&at(tuesday_later)),
        1,
        "Ann alone: Bo has it already"
    );
    assert_eq!(reasons(&store, "ann@acme.com")[0], line);
    // Eight days on, the decay refresh finds the week over for both.
    let later = tuesday + 8 * DAY;
    let ids: Vec<u64> = ["ann@acme.com", "bo@acme.com"]
        .iter()
        .map(|email| {
            store
                .contact_id_for(&Identity::email(email))
                .unwrap()
                .unwrap()
        })
        .collect();
    // Ann's refresh finds the week over and her record without the line; Bo gets
    // the changed line from the next pass over changed lines.
    assert_eq!(refresh(&at(later), &ids[..1]).unwrap(), 1);
    assert_eq!(take_lines(&at(later)), 1);
    for email in ["ann@acme.com", "bo@acme.com"] {
        let shown = reasons(&store, email);
        assert!(
            !shown.iter().any(|r| r.contains("engaged this week")),
            "{email}: {shown:?}"
        );
    }
}
