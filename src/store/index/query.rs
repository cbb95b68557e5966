//! Pages of contacts and accounts, read through the indexes.
//!
//! A list can be read in more than one way: along the index of its sort, checking
//! each card against the filters, or along the range of one filter, sorted once
//! read whole. Which is quicker depends on how many records pass the filters, which
//! nothing tells in advance, so the ways are read side by side, a few entries at a
//! time, and the first to finish answers: at most a few times the work of the
//! quickest.
//!
//! A list ordered by a field of few values (trend, stage, fit, matrix) is read one
//! value at a time, in order: each is a list of its own, ordered by score, read along
//! the score index or along that value's range, until the page is full.

use super::cards::{
    card_key, contact_range, fit_rank, hashed_term_range, id_of, is_term_entry, matrix_rank,
    public_id_ranges, rank_tag, searched_prefix, stage_rank, term_hash_input, term_prefix,
    text_value, trend_rank, ACCOUNT, CONTACT, IN_ACCOUNT, SCORE, SOURCE, TERM, TREND,
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
#[derive(Clone)]
struct Way {
    prefix: Vec<u8>,
    offset: usize,
    /// What the position starts with before the key's own bytes: the rank when one
    /// rank of a list is read along the score index.
    lead: Vec<u8>,
    ordered: bool,
    /// Ranges of contact ids whose cards are read after the range, as if they were
    /// its entries (a search for public ids).
    ids: Vec<(u64, u64)>,
}

impl Way {
    /// A range read whole and sorted.
    fn whole(prefix: Vec<u8>) -> Way {
        Way {
            prefix,
            offset: 0,
            lead: Vec::new(),
            ordered: false,
            ids: Vec::new(),
        }
    }

    fn along(prefix: Vec<u8>, lead: Vec<u8>) -> Way {
        Way {
            offset: prefix.len(),
            prefix,
            lead,
            ordered: true,
            ids: Vec::new(),
        }
    }
}

/// The cards of contacts with ids in `ranges`, each as a search-term entry of its
/// id, so that they are checked like the people a search term found.
fn cards_as_entries(tree: &sled::Tree, ranges: Vec<(u64, u64)>) -> Entries {
    let tree = tree.clone();
    Box::new(ranges.into_iter().flat_map(move |(low, high)| {
        let low = card_key(CONTACT, &low.to_be_bytes());
        let high = card_key(CONTACT, &high.to_be_bytes());
        tree.range(low..high).map(|item| {
            item.map(|(key, value)| {
                let id = key.get(2..).unwrap_or_default();
                let mut entry = vec![CONTACT, TERM];
                entry.extend_from_slice(id);
                entry.extend_from_slice(&(id.len() as u16).to_be_bytes());
                (sled::IVec::from(entry), value)
            })
        })
    }))
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
    lead: Vec<u8>,
    ordered: bool,
    found: Vec<(Vec<u8>, C)>,
    seen: HashSet<Vec<u8>>,
}

/// The list as read the quickest way: cards that `keep` accepts, ordered by
/// `position`, after `after`, the first `want` of them.
struct Listing<'a> {
    tree: &'a sled::Tree,
    store: &'a Store,
    kind: u8,
    descending: bool,
    after: Option<&'a [u8]>,
    want: usize,
}

impl Listing<'_> {
    fn open<C>(&self, way: Way) -> Reading<C> {
        let low = Bound::Included(way.prefix.clone());
        let high = match prefix_end(&way.prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        let (mut low, mut high) = (low, high);
        // A cursor in another rank leaves this one whole: the caller reads only the
        // ranks on the right side of it.
        let after = self
            .after
            .filter(|_| way.ordered)
            .and_then(|after| after.strip_prefix(way.lead.as_slice()));
        if let Some(after) = after {
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
        let entries = if way.ids.is_empty() {
            entries
        } else {
            Box::new(entries.chain(cards_as_entries(self.tree, way.ids)))
        };
        Reading {
            entries,
            offset: way.offset,
            lead: way.lead,
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
                let mut at = reading.lead.clone();
                at.extend_from_slice(&key[reading.offset.min(key.len())..]);
                at
            } else {
                position(&card)
            };
            reading.found.push((at, card));
            if reading.ordered && reading.found.len() >= self.want {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn finish<C>(&self, mut reading: Reading<C>) -> Vec<(Vec<u8>, C)> {
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
        reading.found.truncate(self.want);
        reading.found
    }

    /// The cards with their positions, in order.
    fn run<C: serde::de::DeserializeOwned>(
        &self,
        ways: Vec<Way>,
        keep: impl Fn(&C, &[u8]) -> bool,
        position: impl Fn(&C) -> Vec<u8>,
    ) -> Result<Vec<(Vec<u8>, C)>, StoreError> {
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

/// A page of the first `limit` of `found`, which holds one more when there is more.
fn page<C>(mut found: Vec<(Vec<u8>, C)>, limit: usize) -> Page<C> {
    let next = (found.len() > limit).then(|| found[limit - 1].0.clone());
    found.truncate(limit);
    Page {
        items: found.into_iter().map(|(_, card)| card).collect(),
        next,
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

/// The tag of the index a sort without ranks reads in its own order (rank sorts
/// read the score index, one rank at a time).
fn sort_tag(sort: ContactSort) -> u8 {
    match sort {
        ContactSort::Velocity => super::cards::VELOCITY,
        ContactSort::LastTouch => super::cards::LAST_TOUCH,
        _ => SCORE,
    }
}

impl Store {
    /// A page of contacts; `next` continues it.
    pub fn contact_page(&self, query: &ContactQuery) -> Result<Page<ContactCard>, StoreError> {
        let settings = self.index_settings();
        let filter = &query.filter;
        let sort = query.sort;
        let limit = query.limit.max(1);
        let mut filter_ways = Vec::new();
        // The rank each filtered field of few values must have.
        let mut fixed: Vec<(ContactSort, u8)> = Vec::new();
        if let Some(trend) = filter.trend {
            fixed.push((ContactSort::Trend, trend_rank(trend)));
        }
        if let Some(stage) = &filter.stage {
            let rank = stage_rank(Some(stage), &settings);
            if rank == 0 {
                return Ok(page(Vec::new(), limit));
            }
            fixed.push((ContactSort::Stage, rank));
        }
        if let Some(grade) = &filter.fit_grade {
            fixed.push((ContactSort::Fit, fit_rank(Some(grade))));
        }
        if let Some(cell) = &filter.matrix {
            fixed.push((ContactSort::Matrix, matrix_rank(Some(cell))));
        }
        for &(field, rank) in &fixed {
            if let Some(tag) = rank_tag(field) {
                filter_ways.push(Way::whole(vec![CONTACT, tag, rank]));
            }
        }
        for (tag, value) in [(IN_ACCOUNT, &filter.account), (SOURCE, &filter.source)] {
            if let Some(value) = value {
                filter_ways.push(Way::whole(contact_range(tag, &text_value(value))));
            }
        }
        if let Some(search) = &filter.search {
            if let Some(prefix) = searched_prefix(search) {
                let hash = self.inner.vault.hash(&term_hash_input(prefix));
                let mut way = Way::whole(hashed_term_range(&hash));
                way.ids = public_id_ranges(search);
                filter_ways.push(way);
            }
        }
        let listing = |want: usize| Listing {
            tree: &self.inner.index,
            store: self,
            kind: CONTACT,
            descending: query.descending,
            after: query.after.as_deref(),
            want,
        };
        let current = |card: &ContactCard, key: &[u8]| {
            filter.admits(card)
                && (is_term_entry(key) || card.entries(&settings).iter().any(|entry| entry == key))
        };
        let position = |card: &ContactCard| card.sort_entry(sort, &settings)[2..].to_vec();
        let Some(tag) = rank_tag(sort) else {
            let mut ways = vec![Way::along(vec![CONTACT, sort_tag(sort)], Vec::new())];
            ways.extend(filter_ways);
            let found = listing(limit + 1).run(ways, current, position)?;
            return Ok(page(found, limit));
        };
        let mut ranks = self.ranks_present(tag)?;
        if query.descending {
            ranks.reverse();
        }
        if let Some(&(_, only)) = fixed.iter().find(|(field, _)| *field == sort) {
            ranks.retain(|&rank| rank == only);
        }
        // The cursor's rank is the first still to read.
        if let Some(&at) = query.after.as_deref().and_then(<[u8]>::first) {
            ranks.retain(|&rank| {
                if query.descending {
                    rank <= at
                } else {
                    rank >= at
                }
            });
        }
        let mut found = Vec::new();
        for rank in ranks {
            let mut ways = vec![
                Way::along(vec![CONTACT, SCORE], vec![rank]),
                Way::whole(vec![CONTACT, tag, rank]),
            ];
            ways.extend(
                filter_ways
                    .iter()
                    .filter(|way| way.prefix != [CONTACT, tag, rank])
                    .cloned(),
            );
            let in_rank = |card: &ContactCard, key: &[u8]| {
                card.rank(sort, &settings) == rank && current(card, key)
            };
            found.extend(listing(limit + 1 - found.len()).run(ways, in_rank, position)?);
            if found.len() > limit {
                break;
            }
        }
        Ok(page(found, limit))
    }

    /// The ranks that some contact has in the index of `tag`, lowest first.
    fn ranks_present(&self, tag: u8) -> Result<Vec<u8>, StoreError> {
        let mut ranks = Vec::new();
        let mut from = vec![CONTACT, tag];
        while let Some(item) = self.inner.index.range(from.clone()..).next() {
            let (key, _) = item?;
            match key.get(..3) {
                Some([CONTACT, found, rank]) if *found == tag => {
                    ranks.push(*rank);
                    match rank.checked_add(1) {
                        Some(next) => from = vec![CONTACT, tag, next],
                        None => break,
                    }
                }
                _ => break,
            }
        }
        Ok(ranks)
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
        let mut ways = vec![Way::along(vec![ACCOUNT, tag(sort)], Vec::new())];
        if let Some(trend) = query.trend {
            ways.push(Way {
                prefix: vec![ACCOUNT, TREND, trend_rank(trend)],
                offset: if sort == AccountSort::Trend { 2 } else { 3 },
                lead: Vec::new(),
                ordered: matches!(sort, AccountSort::Trend | AccountSort::Score),
                ids: Vec::new(),
            });
        }
        if let Some(search) = &query.search {
            ways.push(Way::whole(term_prefix(ACCOUNT, search)));
        }
        let limit = query.limit.max(1);
        let listing = Listing {
            tree: &self.inner.index,
            store: self,
            kind: ACCOUNT,
            descending: query.descending,
            after: query.after.as_deref(),
            want: limit + 1,
        };
        let found = listing.run(
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
        )?;
        Ok(page(found, limit))
    }
}
