//! Pages of contacts and accounts, read through the indexes.
//!
//! A list can be read in more than one way: along the index of its sort, checking
//! each card against the filters, or along the range of one filter (already in
//! score order, else sorted once read whole). Which is quicker depends on how many
//! records pass the filters, which nothing tells in advance, so the ways are read
//! side by side, a few entries at a time, and the first to finish answers: at most
//! a few times the work of the quickest.

use super::cards::{
    card_key, contact_range, fit_rank, hashed_term_range, id_of, is_term_entry, matrix_rank,
    searched_prefix, stage_rank, term_hash_input, term_prefix, text_value, trend_rank, ACCOUNT,
    CONTACT, FIT, IN_ACCOUNT, MATRIX, SCORE, SOURCE, STAGE, TREND,
};
use super::{AccountCard, AccountSort, ContactCard, ContactSort};
use crate::model::Millis;
use crate::scoring::Trend;
use crate::store::{Store, StoreError};
use std::collections::HashSet;
use std::ops::Bound;

/// Entries each way reads before the next takes its turn.
const STEP: usize = 64;

/// What a contact must be to be listed; every given field must hold.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub trend: Option<Trend>,
    pub stage: Option<String>,
    pub fit_grade: Option<String>,
    pub matrix: Option<String>,
    pub account: Option<String>,
    pub source: Option<String>,
    /// Entered their stage at or after this time.
    pub stage_since: Option<Millis>,
    /// Some search term starts with this (lowercase) text.
    pub search: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ContactQuery {
    pub sort: ContactSort,
    pub descending: bool,
    pub filter: ContactFilter,
    /// The position after which the page starts (a page's `next`).
    pub after: Option<Vec<u8>>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct AccountQuery {
    pub sort: AccountSort,
    pub descending: bool,
    pub trend: Option<Trend>,
    pub search: Option<String>,
    pub after: Option<Vec<u8>>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub next: Option<Vec<u8>>,
}

/// One way of reading a list: a key range, where in its keys the sort position
/// starts, and whether the range is already in the order asked for.
struct Way {
    prefix: Vec<u8>,
    offset: usize,
    ordered: bool,
}

/// The bytes right after every key that starts with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

type Entries = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>>;

struct Reading<C> {
    entries: Entries,
    offset: usize,
    ordered: bool,
    found: Vec<(Vec<u8>, C)>,
    seen: HashSet<Vec<u8>>,
}

/// The list as read the quickest way: cards that `keep` accepts, ordered by
/// `position`, after `after`, at most `limit`.
struct Listing<'a> {
    tree: &'a sled::Tree,
    store: &'a Store,
    kind: u8,
    descending: bool,
    after: Option<&'a [u8]>,
    limit: usize,
}

impl Listing<'_> {
    fn open<C>(&self, way: Way) -> Reading<C> {
        let low = Bound::Included(way.prefix.clone());
        let high = match prefix_end(&way.prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        let (mut low, mut high) = (low, high);
        if let (Some(after), true) = (self.after, way.ordered) {
            let mut start = way.prefix[..way.offset].to_vec();
            start.extend_from_slice(after);
            if self.descending {
                let below_end = match &high {
                    Bound::Excluded(end) => start < *end,
                    _ => true,
                };
                if below_end {
                    high = Bound::Excluded(start);
                }
            } else if start >= way.prefix {
                low = Bound::Excluded(start);
            }
        }
        let empty = match (&low, &high) {
            (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h)) => l >= h,
            _ => false,
        };
        let entries: Entries = if empty {
            Box::new(std::iter::empty())
        } else if self.descending && way.ordered {
            Box::new(self.tree.range::<Vec<u8>, _>((low, high)).rev())
        } else {
            Box::new(self.tree.range::<Vec<u8>, _>((low, high)))
        };
        Reading {
            entries,
            offset: way.offset,
            ordered: way.ordered,
            found: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn card<C: serde::de::DeserializeOwned>(&self, id: &[u8]) -> Result<Option<C>, StoreError> {
        Ok(self
            .tree
            .get(card_key(self.kind, id))?
            .and_then(|bytes| postcard::from_bytes(&self.store.unseal(&bytes)?).ok()))
    }

    /// Reads a few entries; `true` once the reading has its answer.
    fn step<C: serde::de::DeserializeOwned>(
        &self,
        reading: &mut Reading<C>,
        keep: &impl Fn(&C, &[u8]) -> bool,
        position: &impl Fn(&C) -> Vec<u8>,
    ) -> Result<bool, StoreError> {
        for _ in 0..STEP {
            let Some(item) = reading.entries.next() else {
                return Ok(true);
            };
            let (key, _) = item?;
            let Some(id) = id_of(&key) else { continue };
            if !reading.ordered && !reading.seen.insert(id.to_vec()) {
                continue;
            }
            let Some(card) = self.card(id)? else { continue };
            if !keep(&card, &key) {
                continue;
            }
            let at = if reading.ordered {
                key[reading.offset.min(key.len())..].to_vec()
            } else {
                position(&card)
            };
            reading.found.push((at, card));
            if reading.ordered && reading.found.len() > self.limit {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn finish<C>(&self, mut reading: Reading<C>) -> Page<C> {
        if !reading.ordered {
            reading.found.sort_by(|a, b| a.0.cmp(&b.0));
            if self.descending {
                reading.found.reverse();
            }
            if let Some(after) = self.after {
                reading.found.retain(|(at, _)| {
                    if self.descending {
                        at.as_slice() < after
                    } else {
                        at.as_slice() > after
                    }
                });
            }
        }
        let mut found = reading.found;
        let next = (found.len() > self.limit).then(|| found[self.limit - 1].0.clone());
        found.truncate(self.limit);
        Page {
            items: found.into_iter().map(|(_, card)| card).collect(),
            next,
        }
    }

    fn run<C: serde::de::DeserializeOwned>(
        &self,
        ways: Vec<Way>,
        keep: impl Fn(&C, &[u8]) -> bool,
        position: impl Fn(&C) -> Vec<u8>,
    ) -> Result<Page<C>, StoreError> {
        let mut readings: Vec<Option<Reading<C>>> =
            ways.into_iter().map(|way| Some(self.open(way))).collect();
        loop {
            for slot in readings.iter_mut() {
                let Some(reading) = slot.as_mut() else {
                    continue;
                };
                if self.step(reading, &keep, &position)? {
                    if let Some(done) = slot.take() {
                        return Ok(self.finish(done));
                    }
                }
            }
        }
    }
}

impl ContactFilter {
    fn admits(&self, card: &ContactCard) -> bool {
        let equal = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|want| have.as_ref() == Some(want))
        };
        self.trend.is_none_or(|trend| card.trend == trend)
            && equal(&self.stage, &card.stage)
            && equal(&self.fit_grade, &card.fit_grade)
            && equal(&self.matrix, &card.matrix)
            && equal(&self.account, &card.account)
            && self
                .source
                .as_ref()
                .is_none_or(|source| card.sources.contains(source))
            && self
                .stage_since
                .is_none_or(|since| card.stage_changed_at.is_some_and(|at| at >= since))
            && self.search.as_ref().is_none_or(|search| {
                card.terms
                    .iter()
                    .any(|term| term.starts_with(search.as_str()))
            })
    }
}

fn sort_tag(sort: ContactSort) -> u8 {
    match sort {
        ContactSort::Score => SCORE,
        ContactSort::Trend => TREND,
        ContactSort::Stage => STAGE,
        ContactSort::Fit => FIT,
        ContactSort::Matrix => MATRIX,
        ContactSort::Velocity => super::cards::VELOCITY,
        ContactSort::LastTouch => super::cards::LAST_TOUCH,
    }
}

impl Store {
    /// A page of contacts; `next` continues it.
    pub fn contact_page(&self, query: &ContactQuery) -> Result<Page<ContactCard>, StoreError> {
        let settings = self.index_settings();
        let filter = &query.filter;
        let sort = query.sort;
        let mut ways = vec![Way {
            prefix: vec![CONTACT, sort_tag(sort)],
            offset: 2,
            ordered: true,
        }];
        // A rank range (trend, stage, fit, matrix) is in score order within, and is
        // the very index of its own sort.
        let mut rank_way = |field: ContactSort, rank: u8| {
            ways.push(Way {
                prefix: vec![CONTACT, sort_tag(field), rank],
                offset: if sort == field { 2 } else { 3 },
                ordered: sort == field || sort == ContactSort::Score,
            });
        };
        if let Some(trend) = filter.trend {
            rank_way(ContactSort::Trend, trend_rank(trend));
        }
        if let Some(stage) = &filter.stage {
            let rank = stage_rank(Some(stage), &settings);
            if rank == 0 {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
            rank_way(ContactSort::Stage, rank);
        }
        if let Some(grade) = &filter.fit_grade {
            rank_way(ContactSort::Fit, fit_rank(Some(grade)));
        }
        if let Some(cell) = &filter.matrix {
            rank_way(ContactSort::Matrix, matrix_rank(Some(cell)));
        }
        for (tag, value) in [(IN_ACCOUNT, &filter.account), (SOURCE, &filter.source)] {
            if let Some(value) = value {
                let prefix = contact_range(tag, &text_value(value));
                ways.push(Way {
                    offset: prefix.len(),
                    prefix,
                    ordered: sort == ContactSort::Score,
                });
            }
        }
        if let Some(prefix) = filter.search.as_deref().and_then(searched_prefix) {
            let prefix = hashed_term_range(&self.inner.vault.hash(&term_hash_input(prefix)));
            ways.push(Way {
                prefix,
                offset: 0,
                ordered: false,
            });
        }
        let listing = Listing {
            tree: &self.inner.index,
            store: self,
            kind: CONTACT,
            descending: query.descending,
            after: query.after.as_deref(),
            limit: query.limit.max(1),
        };
        listing.run(
            ways,
            |card: &ContactCard, key| {
                filter.admits(card)
                    && (is_term_entry(key)
                        || card.entries(&settings).iter().any(|entry| entry == key))
            },
            |card| card.sort_entry(sort, &settings)[2..].to_vec(),
        )
    }

    /// A page of accounts; `next` continues it.
    pub fn account_page(&self, query: &AccountQuery) -> Result<Page<AccountCard>, StoreError> {
        let sort = query.sort;
        let tag = |sort: AccountSort| match sort {
            AccountSort::Score => SCORE,
            AccountSort::Trend => TREND,
            AccountSort::People => super::cards::PEOPLE,
            AccountSort::Name => super::cards::NAME,
        };
        let mut ways = vec![Way {
            prefix: vec![ACCOUNT, tag(sort)],
            offset: 2,
            ordered: true,
        }];
        if let Some(trend) = query.trend {
            ways.push(Way {
                prefix: vec![ACCOUNT, TREND, trend_rank(trend)],
                offset: if sort == AccountSort::Trend { 2 } else { 3 },
                ordered: matches!(sort, AccountSort::Trend | AccountSort::Score),
            });
        }
        if let Some(search) = &query.search {
            ways.push(Way {
                prefix: term_prefix(ACCOUNT, search),
                offset: 0,
                ordered: false,
            });
        }
        let listing = Listing {
            tree: &self.inner.index,
            store: self,
            kind: ACCOUNT,
            descending: query.descending,
            after: query.after.as_deref(),
            limit: query.limit.max(1),
        };
        listing.run(
            ways,
            |card: &AccountCard, key| {
                query.trend.is_none_or(|trend| card.trend == trend)
                    && query.search.as_ref().is_none_or(|search| {
                        card.terms
                            .iter()
                            .any(|term| term.starts_with(search.as_str()))
                    })
                    && card.entries().iter().any(|entry| entry == key)
            },
            |card| card.sort_entry(sort)[2..].to_vec(),
        )
    }
}
