//! The indexes give the same lists as sorting every card by hand, page after page,
//! and stay right as rounds change and remove records.

use super::*;
use crate::model::{Identity, TouchKind};
use crate::scoring::{Trend, Visible};
use crate::store::{ProfileField, StoredTouch};

const NOW: i64 = 1_790_000_000_000;
const DAY: i64 = 86_400_000;

fn contact(n: u64) -> Contact {
    let mut contact = Contact::new(n, NOW);
    contact.add_identity(Identity::email(&format!("p{n}@company{}.com", n % 7)));
    if n.is_multiple_of(3) {
        contact.add_identity(Identity::crm("hubspot", format!("{}", 500 + n)));
    }
    contact.attention.raw = match n % 5 {
        0 => 0.0,
        1 => -(n as f64) / 10.0,
        _ => (n * 37 % 101) as f64 / 3.0,
    };
    contact.attention.as_of = NOW - (n as i64 % 40) * DAY;
    let trends = [Trend::Rising, Trend::Steady, Trend::Fading];
    let grades = ["A", "B", "C", "D"];
    let grade = grades[(n % 4) as usize];
    contact.visible = Some(Visible {
        trend: trends[(n % 3) as usize],
        velocity: (n as i64 % 9) - 4,
        fit_grade: grade.into(),
        matrix: format!("{grade}{}", n % 4 + 1),
        ..Visible::default()
    });
    let stages = ["new", "engaged", "mql", "sales_ready"];
    contact.stage = Some(stages[(n * 7 % 4) as usize].into());
    contact.stage_changed_at = Some(NOW - (n as i64 % 12) * DAY);
    contact.account_key = Some(format!("domain:company{}.com", n % 7));
    contact.profile.insert(
        "first_name".into(),
        ProfileField {
            value: format!("Ann{n}"),
            source: "hubspot".into(),
            at: NOW,
        },
    );
    contact
}

fn touch(source: &str, at: i64) -> StoredTouch {
    StoredTouch {
        id: format!("{source}{at}"),
        kind: TouchKind::EmailOpen,
        occurred_at: at,
        source: source.into(),
        weight: 1.0,
        notes: Vec::new(),
        properties: None,
    }
}

fn filled(count: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_when_free(&dir.path().join("data")).unwrap();
    let mut round = store.round();
    for n in 1..=count {
        round.put_contact(&contact(n)).unwrap();
        let source = if n % 2 == 0 { "site" } else { "hubspot" };
        round
            .put_touch(n, &n.to_be_bytes(), &touch(source, NOW - n as i64))
            .unwrap();
    }
    round.commit(None).unwrap();
    (dir, store)
}

fn every_page(store: &Store, mut query: ContactQuery) -> Vec<u64> {
    let mut ids = Vec::new();
    loop {
        let page = store.contact_page(&query).unwrap();
        assert!(page.items.len() <= query.limit);
        ids.extend(page.items.iter().map(|card| card.id));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return ids,
        }
    }
}

fn by_hand(store: &Store, query: &ContactQuery, count: u64) -> Vec<u64> {
    let settings = store.index_settings();
    let mut cards: Vec<ContactCard> = (1..=count)
        .map(|n| {
            let source = if n % 2 == 0 { "site" } else { "hubspot" };
            ContactCard::of(&contact(n), vec![source.to_string()])
        })
        .filter(|card| {
            let filter = &query.filter;
            filter.trend.is_none_or(|t| card.trend == t)
                && filter
                    .stage
                    .as_ref()
                    .is_none_or(|s| card.stage.as_ref() == Some(s))
                && filter
                    .fit_grade
                    .as_ref()
                    .is_none_or(|g| card.fit_grade.as_ref() == Some(g))
                && filter
                    .matrix
                    .as_ref()
                    .is_none_or(|m| card.matrix.as_ref() == Some(m))
                && filter
                    .account
                    .as_ref()
                    .is_none_or(|a| card.account.as_ref() == Some(a))
                && filter
                    .source
                    .as_ref()
                    .is_none_or(|s| card.sources.contains(s))
                && filter
                    .stage_since
                    .is_none_or(|since| card.stage_changed_at.is_some_and(|at| at >= since))
                && filter
                    .search
                    .as_ref()
                    .is_none_or(|q| card.terms.iter().any(|t| t.starts_with(q.as_str())))
        })
        .collect();
    cards.sort_by_key(|card| card.sort_entry(query.sort, &settings));
    if query.descending {
        cards.reverse();
    }
    cards.iter().map(|card| card.id).collect()
}

#[test]
fn every_sort_and_filter_pages_through_the_same_list_as_sorting_by_hand() {
    let count = 240;
    let (_dir, store) = filled(count);
    let filters = [
        ContactFilter::default(),
        ContactFilter {
            trend: Some(Trend::Rising),
            ..ContactFilter::default()
        },
        ContactFilter {
            stage: Some("mql".into()),
            fit_grade: Some("B".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            matrix: Some("A1".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            account: Some("domain:company3.com".into()),
            source: Some("site".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            stage: Some("sales_ready".into()),
            stage_since: Some(NOW - 7 * DAY),
            ..ContactFilter::default()
        },
        ContactFilter {
            search: Some("ann1".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            search: Some("hubspot:5".into()),
            trend: Some(Trend::Fading),
            ..ContactFilter::default()
        },
        // Longer than an indexed length: the hashed prefix finds more, the cards check.
        ContactFilter {
            search: Some("p17@company3.c".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            search: Some("hubspot:51".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            search: Some("c_".into()),
            stage: Some("engaged".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            search: Some("nobody@nowhere".into()),
            ..ContactFilter::default()
        },
        // Public ids stand under no term entry: the ids they can name are read.
        ContactFilter {
            search: Some("c_12".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            search: Some("c_240".into()),
            fit_grade: Some("A".into()),
            ..ContactFilter::default()
        },
        ContactFilter {
            search: Some("c_0123".into()),
            ..ContactFilter::default()
        },
    ];
    let sorts = [
        ContactSort::Score,
        ContactSort::Trend,
        ContactSort::Velocity,
        ContactSort::Stage,
        ContactSort::Fit,
        ContactSort::Matrix,
        ContactSort::LastTouch,
    ];
    for filter in &filters {
        for sort in sorts {
            for descending in [true, false] {
                let query = ContactQuery {
                    sort,
                    descending,
                    filter: filter.clone(),
                    after: None,
                    limit: 7,
                };
                let expected = by_hand(&store, &query, count);
                assert_eq!(
                    every_page(&store, query.clone()),
                    expected,
                    "{sort:?} desc={descending} {filter:?}"
                );
            }
        }
    }
}

#[test]
fn changed_and_removed_contacts_leave_no_stale_entries() {
    let (_dir, store) = filled(30);
    let mut round = store.round();
    let mut moved = contact(4);
    moved.attention.raw = 1000.0;
    moved.attention.as_of = NOW;
    moved.account_key = Some("domain:elsewhere.com".into());
    round.put_contact(&moved).unwrap();
    round.remove_contact(5);
    round
        .put_touch(4, &[9; 8], &touch("calendly", NOW))
        .unwrap();
    round.commit(None).unwrap();
    let query = |filter: ContactFilter| ContactQuery {
        sort: ContactSort::Score,
        descending: true,
        filter,
        after: None,
        limit: 100,
    };
    let all = every_page(&store, query(ContactFilter::default()));
    assert_eq!(all.len(), 29);
    assert_eq!(all[0], 4, "the highest score comes first");
    assert!(!all.contains(&5));
    let old_account = every_page(
        &store,
        query(ContactFilter {
            account: Some("domain:company4.com".into()),
            ..ContactFilter::default()
        }),
    );
    assert!(!old_account.contains(&4));
    // Sources add up: the touches of earlier rounds and this one.
    let page = store
        .contact_page(&query(ContactFilter::default()))
        .unwrap();
    assert_eq!(page.items[0].sources, ["calendly", "site"]);
    // Nothing but current entries is left: a fresh build writes the same keys.
    let before: Vec<_> = store
        .inner
        .index
        .iter()
        .keys()
        .map(|k| k.unwrap())
        .collect();
    store.inner.meta.remove(b"index_settings_sealed").unwrap();
    assert!(store
        .ensure_index(IndexSettings::default(), |_| {})
        .unwrap());
    let after: Vec<_> = store
        .inner
        .index
        .iter()
        .keys()
        .map(|k| k.unwrap())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn a_store_from_before_the_index_is_indexed_at_start() {
    let (dir, store) = filled(20);
    store.inner.index.clear().unwrap();
    store.inner.meta.remove(b"index_settings_sealed").unwrap();
    drop(store);
    let store = Store::open_when_free(&dir.path().join("data")).unwrap();
    assert!(store
        .ensure_index(IndexSettings::default(), |_| {})
        .unwrap());
    assert!(!store
        .ensure_index(IndexSettings::default(), |_| {})
        .unwrap());
    let page = store
        .contact_page(&ContactQuery {
            sort: ContactSort::LastTouch,
            descending: true,
            filter: ContactFilter {
                source: Some("hubspot".into()),
                ..ContactFilter::default()
            },
            after: None,
            limit: 50,
        })
        .unwrap();
    let ids: Vec<u64> = page.items.iter().map(|card| card.id).collect();
    // No attention kinds in these records: no last touch, so by id.
    assert_eq!(ids, [19, 17, 15, 13, 11, 9, 7, 5, 3, 1]);
}

#[test]
fn search_terms_stand_in_the_index_only_as_keyed_hashes() {
    let (_dir, store) = filled(40);
    let contact_keys: Vec<Vec<u8>> = store
        .inner
        .index
        .scan_prefix([cards::CONTACT])
        .keys()
        .map(|key| key.unwrap().to_vec())
        .collect();
    assert!(contact_keys.iter().any(|key| cards::is_term_entry(key)));
    for word in [&b"ann1"[..], b"p17@", b"hubspot:5"] {
        assert!(
            !contact_keys
                .iter()
                .any(|key| key.windows(word.len()).any(|w| w == word)),
            "{} in a key",
            String::from_utf8_lossy(word)
        );
    }
    let hashed = |prefix: &str| {
        store
            .inner
            .index
            .scan_prefix(cards::hashed_term_range(
                &store.inner.vault.hash(&cards::term_hash_input(prefix)),
            ))
            .count()
    };
    // Ann1 and Ann10 to Ann19.
    assert_eq!(hashed("ann1"), 11);
    // The public id says where the card is: it needs no entry.
    assert_eq!(hashed("c_12"), 0);
    // A new name moves the person's term entries: the old name no longer finds them.
    let mut renamed = contact(17);
    renamed.profile.get_mut("first_name").unwrap().value = "Zelda".into();
    let mut round = store.round();
    round.put_contact(&renamed).unwrap();
    round.commit(None).unwrap();
    let search = |text: &str| {
        every_page(
            &store,
            ContactQuery {
                sort: ContactSort::Score,
                descending: true,
                filter: ContactFilter {
                    search: Some(text.into()),
                    ..ContactFilter::default()
                },
                after: None,
                limit: 5,
            },
        )
    };
    assert_eq!(search("zelda"), [17]);
    assert_eq!(search("ann17"), Vec::<u64>::new());
    assert_eq!(hashed("zeld"), 1);
    assert_eq!(hashed("ann1"), 10, "the old name's entries are gone");
}

#[test]
fn a_new_score_moves_only_the_entries_ordered_by_score() {
    let (_dir, store) = filled(30);
    let keys = || -> BTreeSet<Vec<u8>> {
        store
            .inner
            .index
            .iter()
            .keys()
            .map(|key| key.unwrap().to_vec())
            .collect()
    };
    let before = keys();
    let mut touched = contact(12);
    touched.attention.raw += 40.0;
    touched.attention.as_of = NOW;
    touched.visible.as_mut().unwrap().velocity += 1;
    let mut round = store.round();
    round.put_contact(&touched).unwrap();
    round.commit(None).unwrap();
    let after = keys();
    let tags = |keys: Vec<&Vec<u8>>| -> Vec<u8> { keys.into_iter().map(|key| key[1]).collect() };
    // The score and velocity orders move; trend, stage, fit, matrix, account and
    // source stay where they were, and so does the card's key.
    assert_eq!(
        tags(before.difference(&after).collect()),
        [cards::SCORE, cards::VELOCITY]
    );
    assert_eq!(
        tags(after.difference(&before).collect()),
        [cards::SCORE, cards::VELOCITY]
    );
    let first = store
        .contact_page(&ContactQuery {
            sort: ContactSort::Trend,
            descending: true,
            filter: ContactFilter {
                account: Some("domain:company5.com".into()),
                ..ContactFilter::default()
            },
            after: None,
            limit: 1,
        })
        .unwrap();
    assert_eq!(
        first.items[0].id, 12,
        "the one rising person there, read along the score order"
    );
}

#[test]
fn a_build_under_way_says_how_far_it_is_and_nothing_once_whole() {
    let count = REBUILD_BATCH as u64 * 2 + 5;
    let (dir, store) = filled(count);
    assert_eq!(store.index_progress().unwrap(), None);
    store.inner.meta.remove(b"index_settings_sealed").unwrap();
    drop(store);
    let store = Store::open_when_free(&dir.path().join("data")).unwrap();
    // Opened, not yet built, people not yet counted.
    assert_eq!(
        store.index_progress().unwrap(),
        Some(IndexProgress {
            indexed: 0,
            contacts: None
        })
    );
    let mut seen = Vec::new();
    assert!(store
        .ensure_index(IndexSettings::default(), |done| {
            seen.push((done, store.index_progress().unwrap()));
        })
        .unwrap());
    assert_eq!(
        seen,
        [1, 2].map(|chunks| {
            let done = chunks * REBUILD_BATCH;
            (
                done,
                Some(IndexProgress {
                    indexed: done as u64,
                    contacts: Some(count),
                }),
            )
        })
    );
    assert_eq!(store.index_progress().unwrap(), None);
}
