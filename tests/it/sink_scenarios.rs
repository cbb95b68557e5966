//! Sink scenarios that every CRM goes through the same way, each written once: the
//! calls a CRM fails are sent again as it asks, a record it refuses is parked without
//! holding back others, a call it refuses whole is retried record by record, a large
//! change goes in full calls, and an expired sign-in is renewed. Each CRM's own tests
//! (`sink_<crm>.rs`) run them against its fake through `CrmUnderTest`, with the
//! vendor's own failure answers, and add what only that CRM does.

use crate::fake_crm::{Answer, Crm, FakeCrm, Recorded};
use crate::harness::*;
use std::time::{Duration, Instant};

pub type Fields = serde_json::Map<String, serde_json::Value>;

/// Someone attentiond scores and a CRM holds.
#[derive(Clone, Debug)]
pub struct Person {
    /// How the daemon names them in dead letters: `email:…`, `pipedrive:…`.
    pub identity: String,
    /// How the CRM names them in its write calls: an email, a record id, a person id.
    pub key: String,
}

impl Person {
    /// Someone known by email, whom the CRM names by `key`.
    pub fn with_email(email: &str, key: &str) -> Person {
        Person {
            identity: format!("email:{email}"),
            key: key.to_string(),
        }
    }

    /// Someone known by email, whom the CRM names by that email too.
    pub fn by_email(email: &str) -> Person {
        Person::with_email(email, email)
    }

    pub fn email(&self) -> &str {
        self.identity
            .strip_prefix("email:")
            .expect("someone known by email")
    }
}

/// A CRM as the shared scenarios meet it: how the daemon is pointed at its fake, how
/// its people reach the daemon, and how to read what it received.
pub trait CrmUnderTest {
    type Crm: Crm;
    /// The sink's name in config, dead letters and metrics.
    const SINK: &'static str;

    /// The fake CRM the daemon is pointed at.
    fn fake(&self) -> &FakeCrm<Self::Crm>;

    /// The daemon's config beyond the defaults: the sink pointed at the fake with the
    /// `delivery` knobs, and the source its people come through if not the site.
    fn config(&self, delivery: &str) -> String;

    /// The same, with credentials the sink renews by itself when they expire.
    fn config_renewing_sign_in(&self, delivery: &str) -> String {
        self.config(delivery)
    }

    /// Someone the CRM holds, told apart by `n`; made known to the CRM where it has to
    /// hold a record before attentiond may write to it.
    fn someone(&self, n: usize) -> Person;

    /// A touch for `person`, sent the way that CRM's people reach the daemon: through
    /// the site, by email, unless the CRM says otherwise.
    async fn touch(&self, daemon: &Daemon, person: &Person) {
        daemon.touch(person.email(), "form_submit").await;
    }

    /// What the CRM holds for `person` once attentiond wrote to it.
    fn written(&self, person: &Person) -> Option<Fields>;

    /// The calls that carry records, in the order they were answered.
    fn writes(&self) -> Vec<Recorded>;

    /// The keys of the records one write call carries.
    fn keys_in(&self, write: &Recorded) -> Vec<String>;

    /// How the CRM answered a write: its HTTP status, or the vendor's code where the
    /// vendor reports failures inside a 200.
    fn outcome(&self, write: &Recorded) -> String {
        write.answered.to_string()
    }

    /// How many times `person`'s record was sent.
    fn sent(&self, person: &Person) -> usize {
        self.writes()
            .iter()
            .flat_map(|write| self.keys_in(write))
            .filter(|key| *key == person.key)
            .count()
    }

    async fn wait_written(&self, people: &[Person]) {
        self.fake()
            .wait_for(&format!("all {} people written", people.len()), |_| {
                people.iter().all(|person| self.written(person).is_some())
            })
            .await;
    }
}

/// The CRM fails the first calls with `failures` (a 429, a 5xx, each maybe with a
/// Retry-After); the record is sent again after each, as late as the CRM asked, and
/// written in the end. Failures of the CRM cost the record no attempt: nothing is
/// parked although `max_attempts` is 1.
pub async fn failed_calls_are_sent_again_as_the_crm_asks<C: CrmUnderTest>(
    crm: &C,
    failures: &[Answer],
) {
    let person = crm.someone(1);
    for failure in failures {
        crm.fake().script(failure.clone());
    }
    let daemon = Daemon::start(&crm.config("flush_interval_ms = 100\nmax_attempts = 1"));
    crm.touch(&daemon, &person).await;
    crm.wait_written(std::slice::from_ref(&person)).await;

    let writes = crm.writes();
    let outcomes: Vec<String> = writes.iter().map(|w| crm.outcome(w)).collect();
    let expected: Vec<String> = failures
        .iter()
        .map(|f| f.status.to_string())
        .chain(["200".to_string()])
        .collect();
    assert_eq!(outcomes, expected);
    for (n, failure) in failures.iter().enumerate() {
        if let Some(asked) = failure.retry_after() {
            let waited = writes[n + 1].at - writes[n].at;
            assert!(
                waited >= asked,
                "sent again {waited:?} after a {} asking for {asked:?}",
                failure.status
            );
        }
    }
    assert!(daemon.dead_letters().await.is_empty());
    let rate_limited = failures.iter().filter(|f| f.status == 429).count();
    if rate_limited > 0 {
        let metrics = daemon.metrics().await;
        let line = format!(
            r#"attentiond_sink_requests_total{{sink="{}",status="429"}} {rate_limited}"#,
            C::SINK
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
}

/// A record the CRM refuses, and what its dead letter says.
pub struct Refused {
    pub person: Person,
    /// The dead letter's `error`, word for word.
    pub error: String,
    /// Whether each attempt reaches the CRM's write call; not so for someone no lookup
    /// finds in the CRM.
    pub sent_each_attempt: bool,
}

/// Someone is written, then each of `refused` is tried `max_attempts` times and parked
/// with the CRM's own message, then someone else is written: nobody waits behind a
/// refused record, and a written record is not sent again. Hands back the daemon for
/// what a CRM checks beyond that.
pub async fn a_refused_record_is_parked_without_holding_back_others<C: CrmUnderTest>(
    crm: &C,
    refused: &[Refused],
) -> Daemon {
    let before = crm.someone(1);
    let after = crm.someone(2);
    let daemon = Daemon::start(&crm.config("flush_interval_ms = 300\nmax_attempts = 2"));
    crm.touch(&daemon, &before).await;
    for record in refused {
        crm.touch(&daemon, &record.person).await;
    }
    crm.touch(&daemon, &after).await;
    crm.wait_written(&[before.clone(), after.clone()]).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let letters = daemon.dead_letters().await;
        if letters.len() >= refused.len() {
            break letters;
        }
        assert!(Instant::now() < deadline, "parked so far: {letters:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(letters.len(), refused.len(), "{letters:?}");
    for record in refused {
        let identities = serde_json::json!([record.person.identity]);
        let letter = letters
            .iter()
            .find(|letter| letter["identities"] == identities)
            .unwrap_or_else(|| panic!("no dead letter for {identities}: {letters:?}"));
        assert_eq!(letter["sink"], C::SINK);
        assert_eq!(letter["attempts"], 2, "{letter}");
        assert_eq!(letter["error"], record.error.as_str());
        if record.sent_each_attempt {
            assert_eq!(crm.sent(&record.person), 2, "{:?}", record.person);
        }
        assert!(crm.written(&record.person).is_none());
    }
    for person in [&before, &after] {
        assert_eq!(crm.sent(person), 1, "{person:?} is not sent again");
    }
    daemon
}

/// The CRM refuses the first call, holding two records, as a whole with `refusal`:
/// each record is sent again on its own, and both are written.
pub async fn a_call_refused_whole_is_retried_record_by_record<C: CrmUnderTest>(
    crm: &C,
    refusal: Answer,
) {
    let people = [crm.someone(1), crm.someone(2)];
    let daemon = Daemon::start(&crm.config("flush_interval_ms = 1500\nmax_attempts = 5"));
    crm.fake().script(refusal);
    for person in &people {
        crm.touch(&daemon, person).await;
    }
    crm.wait_written(&people).await;
    let sizes: Vec<usize> = crm
        .writes()
        .iter()
        .map(|write| crm.keys_in(write).len())
        .collect();
    assert_eq!(sizes, vec![2, 1, 1]);
}

/// Twice `limit` and fifty more changed records, all due at once, go in two full calls
/// and one of fifty. The daemon collects them with a flush interval it never reaches,
/// then starts again with a short one. Hands back the restarted daemon.
pub async fn a_large_change_goes_in_full_calls<C: CrmUnderTest>(crm: &C, limit: usize) -> Daemon {
    let people: Vec<Person> = (0..2 * limit + 50).map(|n| crm.someone(n)).collect();
    let daemon = Daemon::start(&crm.config("flush_interval_ms = 600000\nmax_attempts = 5"));
    for chunk in people.chunks(50) {
        futures_util::future::join_all(chunk.iter().map(|person| crm.touch(&daemon, person))).await;
    }
    daemon.drained().await;
    assert!(crm.writes().is_empty());
    let dir = daemon.stop();
    let daemon = Daemon::start_in(
        dir,
        &crm.config("flush_interval_ms = 100\nmax_attempts = 5"),
    );
    crm.wait_written(&people).await;

    let writes = crm.writes();
    let mut sizes: Vec<usize> = writes.iter().map(|w| crm.keys_in(w).len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![50, limit, limit]);
    assert!(writes.iter().all(|w| crm.outcome(w) == "200"), "{writes:?}");
    daemon
}

/// After a first write the CRM lets the sink's sign-in expire (`expire`); the next
/// write, for the same person, is refused with `refused_with`, and the sink signs in
/// again and sends the very same call with the new credentials, at no cost to the
/// record: nothing is parked although `max_attempts` is 1. Hands back the daemon.
pub async fn an_expired_sign_in_is_renewed_and_the_call_sent_again<C: CrmUnderTest>(
    crm: &C,
    expire: impl Fn(&C),
    refused_with: &str,
) -> Daemon {
    let person = crm.someone(1);
    let daemon =
        Daemon::start(&crm.config_renewing_sign_in("flush_interval_ms = 100\nmax_attempts = 1"));
    crm.touch(&daemon, &person).await;
    crm.wait_written(std::slice::from_ref(&person)).await;
    expire(crm);
    crm.touch(&daemon, &person).await;
    crm.fake()
        .wait_for("written again with new credentials", |_| {
            let writes = crm.writes();
            writes.iter().filter(|w| crm.outcome(w) == "200").count() == 2
        })
        .await;

    let writes = crm.writes();
    let outcomes: Vec<String> = writes.iter().map(|w| crm.outcome(w)).collect();
    assert_eq!(outcomes, vec!["200", refused_with, "200"]);
    assert_eq!(
        writes[1].body, writes[2].body,
        "the same call is sent again"
    );
    assert_eq!(writes[0].authorization(), writes[1].authorization());
    assert_ne!(writes[1].authorization(), writes[2].authorization());
    assert!(daemon.dead_letters().await.is_empty());
    daemon
}
