//! The contact record's layouts: format 2 today (the types in `records`), and format
//! 1, written before raw attention had a short memory, read and taken into today's
//! [`Contact`] with that memory empty, which is what the one-memory score it was
//! counted under adds up to. Postcard keeps no field names, so the types below are
//! format 1's layout, field by field. The tests hold the bytes of each format.

use super::records::{Contact, ProfileField, StageChange, CONTACT_FORMAT};
use crate::model::{Identity, Millis, TouchKind};
use crate::scoring::{Attention, KindStats, Visible};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct KindStatsV1 {
    contribution: f64,
    count: u64,
    last_at: Millis,
    recent: Vec<Millis>,
}

/// Cap counters were, and are, `[kind, period, count]` triples.
type CountersV1 = Vec<(TouchKind, i64, u32)>;

#[derive(Deserialize)]
struct AttentionV1 {
    as_of: Millis,
    raw: f64,
    fast: f64,
    slow: f64,
    kinds: BTreeMap<TouchKind, KindStatsV1>,
    daily: CountersV1,
    week: Vec<(Millis, f64)>,
    weekly: CountersV1,
}

#[derive(Deserialize)]
struct ContactV1 {
    id: u64,
    identities: Vec<Identity>,
    retired: Vec<Identity>,
    account: Option<String>,
    attention: AttentionV1,
    touch_count: u64,
    created_at: Millis,
    visible: Option<Visible>,
    profile: BTreeMap<String, ProfileField>,
    account_key: Option<String>,
    stage: Option<String>,
    stage_changed_at: Option<Millis>,
    stage_history: Vec<StageChange>,
}

impl Contact {
    /// `None` for bytes that are no format: a corrupt record.
    pub fn from_bytes(bytes: &[u8]) -> Option<Contact> {
        match bytes.split_first()? {
            (&CONTACT_FORMAT, rest) => postcard::from_bytes(rest).ok(),
            (1, rest) => read_format_1(rest),
            (b'{', _) => serde_json::from_slice(bytes).ok(),
            _ => None,
        }
    }
}

/// A format-1 record (the bytes after its format byte), or `None` if corrupt.
fn read_format_1(bytes: &[u8]) -> Option<Contact> {
    let old: ContactV1 = postcard::from_bytes(bytes).ok()?;
    let a = old.attention;
    let counters = |list: CountersV1| {
        list.into_iter()
            .map(|(kind, period, count)| ((kind, period), count))
            .collect()
    };
    let attention = Attention {
        as_of: a.as_of,
        raw: a.raw,
        fast: a.fast,
        slow: a.slow,
        kinds: a
            .kinds
            .into_iter()
            .map(|(kind, stats)| {
                (
                    kind,
                    KindStats {
                        contribution: stats.contribution,
                        count: stats.count,
                        last_at: stats.last_at,
                        recent: stats.recent,
                        short: 0.0,
                    },
                )
            })
            .collect(),
        daily: counters(a.daily),
        week: a.week,
        weekly: counters(a.weekly),
        short: 0.0,
        week_short: Vec::new(),
    };
    Some(Contact {
        id: old.id,
        identities: old.identities,
        retired: old.retired,
        account: old.account,
        attention,
        touch_count: old.touch_count,
        created_at: old.created_at,
        visible: old.visible,
        profile: old.profile,
        account_key: old.account_key,
        stage: old.stage,
        stage_changed_at: old.stage_changed_at,
        stage_history: old.stage_history,
    })
}

#[cfg(test)]
mod tests {
    use crate::model::{Identity, TouchKind};
    use crate::scoring::{KindStats, Trend, Visible};
    use crate::store::records::{Contact, ProfileField, StageChange, CONTACT_FORMAT};

    /// A contact with every field format 1 had set, each collection holding
    /// something.
    fn everything() -> Contact {
        let mut contact = Contact::new(42, 1_795_000_000_000);
        contact.add_identity(Identity::email("ann@acme.com"));
        contact.add_identity(Identity::crm("hubspot", "51"));
        contact.add_identity(Identity::Anonymous("visitor-7f3a".into()));
        contact.retired.push(Identity::crm("hubspot", "50"));
        contact.account = Some("hubspot-company:100".into());
        let attention = &mut contact.attention;
        attention.as_of = 1_795_000_000_000;
        attention.raw = 12.5;
        attention.fast = 3.25;
        attention.slow = 20.0;
        attention.kinds.insert(
            TouchKind::SpamComplaint,
            KindStats {
                contribution: -40.0,
                count: 1,
                last_at: 1_794_000_000_000,
                recent: vec![1_794_000_000_000],
                short: 0.0,
            },
        );
        attention.kinds.insert(
            TouchKind::EmailOpen,
            KindStats {
                contribution: 1.5,
                count: 3,
                last_at: 1_795_000_000_000,
                recent: vec![1_795_000_000_000, 1_794_900_000_000],
                short: 0.0,
            },
        );
        attention.daily.insert((TouchKind::EmailOpen, 20_775), 2);
        attention.weekly.insert((TouchKind::PageView, 2_968), 7);
        attention.week.push((1_795_000_000_000, 0.5));
        contact.touch_count = 4;
        contact.visible = Some(Visible {
            score: 61,
            trend: Trend::Fading,
            reasons: vec![
                "VP Engineering at acme.com (A)".into(),
                "mql since 2026-11-20".into(),
            ],
            last_touch_at: Some(1_795_000_000_000),
            stage: "mql".into(),
            stage_changed_at: Some(1_794_500_000_000),
            fit_grade: "A".into(),
            matrix: "A2".into(),
            velocity: -3,
        });
        contact.profile.insert(
            "job_title".into(),
            ProfileField {
                value: "VP Engineering".into(),
                source: "hubspot".into(),
                at: 1_794_000_000_000,
            },
        );
        contact.account_key = Some("hubspot-company:100".into());
        contact.stage = Some("mql".into());
        contact.stage_changed_at = Some(1_794_500_000_000);
        contact.stage_history.push(StageChange {
            from: Some("engaged".into()),
            to: "mql".into(),
            at: 1_794_500_000_000,
            reason: "score 61 ≥ 45 with fit A".into(),
        });
        contact
    }

    /// [`everything`] with a short memory too, as format 2 keeps it.
    fn everything_remembered_short() -> Contact {
        let mut contact = everything();
        let attention = &mut contact.attention;
        attention.short = 6.5;
        attention.week_short.push((1_795_000_000_000, 2.0));
        if let Some(stats) = attention.kinds.get_mut(&TouchKind::EmailOpen) {
            stats.short = 0.75;
        }
        contact
    }

    fn same(a: &Contact, b: &Contact) -> bool {
        serde_json::to_value(a).unwrap() == serde_json::to_value(b).unwrap()
    }

    #[test]
    fn a_contact_record_reads_back_as_written() {
        let contact = everything_remembered_short();
        let bytes = contact.to_bytes().unwrap();
        assert_eq!(bytes[0], CONTACT_FORMAT);
        assert!(same(&Contact::from_bytes(&bytes).unwrap(), &contact));
        assert!(bytes.len() * 2 < serde_json::to_vec(&contact).unwrap().len());
    }

    /// Records stored earlier must still read after any change to the types: the
    /// bytes below were written by format 2 (format 1's are in `contact_v1`). If
    /// this fails, the change needs a new `CONTACT_FORMAT` and a reader for the
    /// old one (see its comment).
    #[test]
    fn contact_record_layout_is_fixed() {
        let bytes = everything_remembered_short().to_bytes().unwrap();
        assert_eq!(hex::encode(&bytes), FORMAT_2);
        let stored = Contact::from_bytes(&hex::decode(FORMAT_2).unwrap()).unwrap();
        assert!(same(&stored, &everything_remembered_short()));
    }

    const FORMAT_2: &str = concat!(
        "022a03000c616e6e4061636d652e636f6d010768756273706f74023531020c7669736974",
        "6f722d3766336101010768756273706f74023530011368756273706f742d636f6d70616e",
        "793a31303080f8b2e5bd6800000000000029400000000000000a40000000000000344002",
        "00000000000000f83f0380f8b2e5bd680280f8b2e5bd6880f48386bd68000000000000e8",
        "3f1400000000000044c00180d0dcabb6680180d0dcabb66800000000000000000100cec4",
        "02020180f8b2e5bd68000000000000e03f0105b02e070000000000001a400180f8b2e5bd",
        "6800000000000000400480f8b2e5bd68013d02021e565020456e67696e656572696e6720",
        "61742061636d652e636f6d20284129146d716c2073696e636520323032362d31312d3230",
        "0180f8b2e5bd68036d716c0180e4c788ba6801410241320501096a6f625f7469746c650e",
        "565020456e67696e656572696e670768756273706f7480d0dcabb668011368756273706f",
        "742d636f6d70616e793a31303001036d716c0180e4c788ba68010107656e676167656403",
        "6d716c80e4c788ba681a73636f726520363120e289a52034352077697468206669742041",
    );

    #[test]
    fn contact_records_stored_as_json_still_read() {
        let contact = everything();
        let json = serde_json::to_vec(&contact).unwrap();
        assert!(same(&Contact::from_bytes(&json).unwrap(), &contact));
        // As stored before stages, accounts and typed cap counters existed.
        let old = br#"{"id":7,"identities":[{"type":"email","value":"bo@acme.com"}],
            "attention":{"as_of":1,"raw":1.0,"fast":1.0,"slow":1.0,"kinds":{},
            "daily":{"email_open@20775":1}},"touch_count":1,"created_at":1}"#;
        let read = Contact::from_bytes(old).unwrap();
        assert_eq!(read.email(), Some("bo@acme.com"));
        assert_eq!(read.attention.daily[&(TouchKind::EmailOpen, 20_775)], 1);
    }

    /// Bytes format 1 wrote for [`everything`]: they must keep reading, as they
    /// were, whatever the types become.
    const FORMAT_1: &str = concat!(
        "012a03000c616e6e4061636d652e636f6d010768756273706f74023531020c7669736974",
        "6f722d3766336101010768756273706f74023530011368756273706f742d636f6d70616e",
        "793a31303080f8b2e5bd6800000000000029400000000000000a40000000000000344002",
        "00000000000000f83f0380f8b2e5bd680280f8b2e5bd6880f48386bd6814000000000000",
        "44c00180d0dcabb6680180d0dcabb6680100cec402020180f8b2e5bd68000000000000e0",
        "3f0105b02e070480f8b2e5bd68013d02021e565020456e67696e656572696e6720617420",
        "61636d652e636f6d20284129146d716c2073696e636520323032362d31312d32300180f8",
        "b2e5bd68036d716c0180e4c788ba6801410241320501096a6f625f7469746c650e565020",
        "456e67696e656572696e670768756273706f7480d0dcabb668011368756273706f742d63",
        "6f6d70616e793a31303001036d716c0180e4c788ba68010107656e6761676564036d716c",
        "80e4c788ba681a73636f726520363120e289a52034352077697468206669742041",
    );

    #[test]
    fn a_format_1_record_reads_with_an_empty_short_memory() {
        let stored = Contact::from_bytes(&hex::decode(FORMAT_1).unwrap()).unwrap();
        assert!(same(&stored, &everything()));
        assert_eq!(stored.attention.short, 0.0);
        assert!(stored.attention.kinds.values().all(|k| k.short == 0.0));
        // Written again, it is format 2.
        assert_eq!(stored.to_bytes().unwrap()[0], 2);
    }
}
