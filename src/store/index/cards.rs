//! Index cards: what the console's lists show, sort and filter on, one card per
//! contact or account, and the index entries each card stands under.
//!
//! Every entry key is `kind, tag, sort or filter bytes, id, id length (u16)`, so one
//! index is one key range in sort order, and the id is read from the end of any key.
//! Sorting by score needs no rewrite as time passes: every contact's raw attention
//! decays with the same half-life, `raw(t) = raw(as_of)·2^(−(t−as_of)/h)`, so
//! `ln raw + as_of·ln2/h` orders contacts the same at every moment.

use crate::model::{Identity, Millis, MILLIS_PER_DAY};
use crate::scoring::account::account_name;
use crate::scoring::Trend;
use crate::store::{Account, Contact};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub(super) const CONTACT: u8 = b'c';
pub(super) const ACCOUNT: u8 = b'a';
pub(super) const CARD: u8 = b'#';
pub(super) const SCORE: u8 = b's';
pub(super) const TREND: u8 = b't';
pub(super) const STAGE: u8 = b'g';
pub(super) const FIT: u8 = b'f';
pub(super) const MATRIX: u8 = b'm';
pub(super) const VELOCITY: u8 = b'v';
pub(super) const LAST_TOUCH: u8 = b'l';
pub(super) const IN_ACCOUNT: u8 = b'a';
pub(super) const SOURCE: u8 = b'o';
pub(super) const TERM: u8 = b'e';
pub(super) const PEOPLE: u8 = b'p';
pub(super) const NAME: u8 = b'n';

/// What the index is built with; a change rebuilds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSettings {
    /// `scoring.half_life_days`: the score order depends on it.
    pub half_life_days: f64,
    /// The qualification ladder, lowest stage first: the stage order.
    pub stages: Vec<String>,
    /// How keys are laid out ([`KEY_FORMAT`]); indexes built before it was kept are
    /// read as 0 and built anew.
    #[serde(default)]
    pub key_format: u8,
}

/// 2: numbers in keys are spread over 7-bit bytes ([`spread`]); 3: contacts stand
/// under keyed hashes of their search terms' prefixes ([`term_prefixes`]); 4: only
/// the score, velocity and last-touch entries carry the score; 5: public ids have no
/// term entries ([`public_id_ranges`]).
pub const KEY_FORMAT: u8 = 5;

impl Default for IndexSettings {
    fn default() -> Self {
        IndexSettings {
            key_format: KEY_FORMAT,
            half_life_days: 14.0,
            stages: crate::scoring::stage::default_ladder()
                .into_iter()
                .map(|rung| rung.name)
                .collect(),
        }
    }
}

/// How a contact list can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSort {
    Score,
    Trend,
    Velocity,
    Stage,
    Fit,
    Matrix,
    LastTouch,
}

/// How an account list can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSort {
    Score,
    Trend,
    People,
    Name,
}

/// A contact as the lists see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactCard {
    pub id: u64,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Raw attention exact at `as_of`.
    pub raw: f64,
    pub as_of: Millis,
    /// The fields as last queued for the CRMs.
    pub trend: Trend,
    pub velocity: i64,
    pub fit_grade: Option<String>,
    pub matrix: Option<String>,
    pub stage: Option<String>,
    pub stage_changed_at: Option<Millis>,
    pub last_touch_at: Option<Millis>,
    /// The buying group the person counts in.
    pub account: Option<String>,
    /// The sources whose touches are in the person's log.
    pub sources: Vec<String>,
    /// Lowercase words a search finds the person by: email, name, CRM ids.
    pub terms: Vec<String>,
}

/// An account as the leaderboard sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountCard {
    pub key: String,
    pub name: String,
    /// As last decided (kept fresh by the decay refresh).
    pub score: u8,
    pub trend: Trend,
    pub people_engaged: u32,
    pub members: u32,
    pub terms: Vec<String>,
}

/// A `u64` over ten bytes of seven bits each, big-endian: the same order, and never
/// a byte `0xFF`. sled 0.34 walks a range backwards by seeking just below a node's
/// first key with that key's last byte lowered and four `0xFF` appended; keys holding
/// four `0xFF` in a row past that point (as negative numbers' flipped bits do) make
/// the walk go round in circles until it panics. Descending console lists walk
/// backwards, so no key may hold such a run.
fn spread(value: u64) -> [u8; 10] {
    let mut out = [0u8; 10];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = ((value >> (7 * (9 - i))) & 0x7f) as u8;
    }
    out
}

/// `f64` as bytes that sort like the numbers.
fn ordered_f64(value: f64) -> [u8; 10] {
    let bits = value.to_bits();
    let flipped = if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    };
    spread(flipped)
}

fn ordered_i64(value: i64) -> [u8; 10] {
    spread((value as u64) ^ (1 << 63))
}

/// Raw attention as a key that sorts the same at any time: a tier (negative, none,
/// positive), then the time-free logarithm.
pub fn score_key(raw: f64, as_of: Millis, half_life_days: f64) -> [u8; 11] {
    let mut key = [0u8; 11];
    let shift = as_of as f64 / MILLIS_PER_DAY * std::f64::consts::LN_2 / half_life_days;
    let (tier, value) = if raw > 0.0 && raw.is_finite() {
        (2, raw.ln() + shift)
    } else if raw < 0.0 && raw.is_finite() {
        // Less negative is higher; a negative sum decays towards 0 too.
        (0, -((-raw).ln() + shift))
    } else {
        (1, 0.0)
    };
    key[0] = tier;
    key[1..].copy_from_slice(&ordered_f64(value));
    key
}

pub(super) fn trend_rank(trend: Trend) -> u8 {
    match trend {
        Trend::Fading => 0,
        Trend::Steady => 1,
        Trend::Rising => 2,
    }
}

pub fn parse_trend(text: &str) -> Option<Trend> {
    match text {
        "rising" => Some(Trend::Rising),
        "steady" => Some(Trend::Steady),
        "fading" => Some(Trend::Fading),
        _ => None,
    }
}

/// A = 4 … D = 1, unknown 0: descending puts the best fit first.
pub(super) fn fit_rank(grade: Option<&str>) -> u8 {
    match grade {
        Some("A") => 4,
        Some("B") => 3,
        Some("C") => 2,
        Some("D") => 1,
        _ => 0,
    }
}

/// `A1` (best fit, most attention) highest, `D4` lowest, unknown 0.
pub(super) fn matrix_rank(matrix: Option<&str>) -> u8 {
    let Some(matrix) = matrix else { return 0 };
    let mut chars = matrix.chars();
    let grade = fit_rank(chars.next().map(|c| c.to_string()).as_deref());
    let band = chars
        .next()
        .and_then(|c| c.to_digit(10))
        .filter(|band| (1..=4).contains(band));
    match band {
        Some(band) if grade > 0 && chars.next().is_none() => grade * 10 + (5 - band as u8),
        _ => 0,
    }
}

/// Position on the ladder, 1 for the lowest stage; 0 for none or unknown.
pub(super) fn stage_rank(stage: Option<&str>, settings: &IndexSettings) -> u8 {
    stage
        .and_then(|stage| settings.stages.iter().position(|name| name == stage))
        .map_or(0, |at| (at + 1).min(255) as u8)
}

/// A key of `kind`, `tag`, `parts`, then the id and its length.
pub(super) fn entry(kind: u8, tag: u8, parts: &[&[u8]], id: &[u8]) -> Vec<u8> {
    let mut key = vec![kind, tag];
    for part in parts {
        key.extend_from_slice(part);
    }
    key.extend_from_slice(id);
    key.extend_from_slice(&(id.len() as u16).to_be_bytes());
    key
}

/// The id at the end of an entry key.
pub(super) fn id_of(key: &[u8]) -> Option<&[u8]> {
    let split = key.len().checked_sub(2)?;
    let len = u16::from_be_bytes([key[split], key[split + 1]]) as usize;
    key.get(split.checked_sub(len)?..split)
}

/// Text without the separator byte, so that `text, 0` ends where the text does.
fn text(value: &str) -> Vec<u8> {
    value.bytes().filter(|&b| b != 0).collect()
}

fn with_end(value: &str) -> Vec<u8> {
    let mut bytes = text(value);
    bytes.push(0);
    bytes
}

/// Lengths, in characters, at which a contact's search terms are indexed. A search
/// shorter than the shortest is common enough to be found along the score order
/// soon; a longer one reads the longest length it covers and the cards check the
/// rest. Few lengths, because every entry is a key written at random in the index:
/// a search of a prefix that many share (`john`) is also found along the score
/// order, and the quicker reading answers.
const TERM_PREFIX_LENGTHS: [usize; 6] = [4, 6, 8, 12, 16, 24];

/// The first `length` characters of `term`, when it has that many.
fn first_chars(term: &str, length: usize) -> Option<&str> {
    match term.char_indices().nth(length) {
        Some((end, _)) => Some(&term[..end]),
        None => (term.chars().count() == length).then_some(term),
    }
}

/// The indexed prefix a search of `term` reads: `None` when it is too short.
pub(super) fn searched_prefix(term: &str) -> Option<&str> {
    TERM_PREFIX_LENGTHS
        .iter()
        .rev()
        .find_map(|&length| first_chars(term, length))
}

/// Every indexed prefix of the terms, each once.
pub(super) fn term_prefixes(terms: &[String]) -> BTreeSet<&str> {
    terms
        .iter()
        .flat_map(|term| {
            TERM_PREFIX_LENGTHS
                .iter()
                .filter_map(move |&length| first_chars(term, length))
        })
        .collect()
}

/// Where contacts whose terms start with a prefix stand, given the prefix's keyed
/// hash: emails and names never appear in keys, which an erasure could not reach
/// inside sled's files, while the hash tells nothing without the store's secret.
pub(super) fn hashed_term_range(hash: &[u8; 32]) -> Vec<u8> {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    let mut range = vec![CONTACT, TERM];
    range.extend_from_slice(&spread(u64::from_be_bytes(first)));
    range
}

/// The text hashed for a term prefix, apart from every other keyed hash in the store.
pub(super) fn term_hash_input(prefix: &str) -> Vec<u8> {
    let mut input = b"search term prefix\0".to_vec();
    input.extend_from_slice(prefix.as_bytes());
    input
}

/// Whether an entry is one of a contact's hashed terms, which the card checks by
/// its terms rather than by recomputing every hash.
pub(super) fn is_term_entry(key: &[u8]) -> bool {
    key.starts_with(&[CONTACT, TERM])
}

/// The words a search starts with: lowercase, at most 100 bytes.
pub fn search_term(query: &str) -> String {
    let mut term = query.trim().to_lowercase();
    while term.len() > 100 {
        term.pop();
    }
    term
}

impl ContactCard {
    pub fn of(contact: &Contact, sources: Vec<String>) -> ContactCard {
        let field = |name: &str| {
            contact
                .profile
                .get(name)
                .map(|f| f.value.trim().to_string())
        };
        let name = match (field("first_name"), field("last_name"), field("name")) {
            (Some(first), Some(last), _) => Some(format!("{first} {last}")),
            (Some(one), None, _) | (None, Some(one), _) => Some(one),
            (None, None, name) => name,
        }
        .filter(|name| !name.is_empty());
        let mut terms = Vec::new();
        for identity in &contact.identities {
            match identity {
                Identity::Email(address) => terms.push(address.to_lowercase()),
                Identity::Crm { system, id } => {
                    terms.push(format!("{system}:{id}").to_lowercase());
                    terms.push(id.to_lowercase());
                }
                Identity::Anonymous(id) => terms.push(format!("anon:{id}").to_lowercase()),
            }
        }
        if let Some(name) = &name {
            let name = name.to_lowercase();
            if let Some((_, last)) = name.rsplit_once(' ') {
                terms.push(last.to_string());
            }
            terms.push(name);
        }
        terms.push(Contact::public_id(contact.id));
        terms.iter_mut().for_each(|term| *term = search_term(term));
        terms.sort();
        terms.dedup();
        let visible = contact.visible.as_ref();
        let known = |text: &str| (!text.is_empty()).then(|| text.to_string());
        ContactCard {
            id: contact.id,
            email: contact.email().map(str::to_string),
            name,
            raw: contact.attention.raw,
            as_of: contact.attention.as_of,
            trend: visible.map(|v| v.trend).unwrap_or_default(),
            velocity: visible.map_or(0, |v| v.velocity),
            fit_grade: visible.and_then(|v| known(&v.fit_grade)),
            matrix: visible.and_then(|v| known(&v.matrix)),
            stage: contact.stage.clone(),
            stage_changed_at: contact.stage_changed_at,
            last_touch_at: contact.attention.last_touch_at(),
            account: contact.account_key.clone(),
            sources,
            terms,
        }
    }

    fn id_bytes(&self) -> [u8; 8] {
        self.id.to_be_bytes()
    }

    pub fn score_key(&self, settings: &IndexSettings) -> [u8; 11] {
        score_key(self.raw, self.as_of, settings.half_life_days)
    }

    /// Where the card stands in a list ordered by `sort`: the bytes its position is
    /// compared by, as `kind, tag, position…, id, id length`. Score, velocity and last
    /// touch are stored under exactly this key; a rank (trend, stage, fit, matrix) is
    /// stored without the score ([`Self::entries`]) and its lists read each rank along
    /// the score order.
    pub fn sort_entry(&self, sort: ContactSort, settings: &IndexSettings) -> Vec<u8> {
        let score = self.score_key(settings);
        let id = self.id_bytes();
        match sort {
            ContactSort::Score => entry(CONTACT, SCORE, &[&score], &id),
            ContactSort::Velocity => entry(
                CONTACT,
                VELOCITY,
                &[&ordered_i64(self.velocity), &score],
                &id,
            ),
            ContactSort::LastTouch => {
                let at = self.last_touch_at.unwrap_or(i64::MIN);
                entry(CONTACT, LAST_TOUCH, &[&ordered_i64(at)], &id)
            }
            ContactSort::Trend | ContactSort::Stage | ContactSort::Fit | ContactSort::Matrix => {
                let tag = rank_tag(sort).unwrap_or(SCORE);
                let rank = self.rank(sort, settings);
                entry(CONTACT, tag, &[&[rank], &score], &id)
            }
        }
    }

    /// The card's rank in a sort by a field of few values; 0 for the other sorts.
    pub(super) fn rank(&self, sort: ContactSort, settings: &IndexSettings) -> u8 {
        match sort {
            ContactSort::Trend => trend_rank(self.trend),
            ContactSort::Stage => stage_rank(self.stage.as_deref(), settings),
            ContactSort::Fit => fit_rank(self.fit_grade.as_deref()),
            ContactSort::Matrix => matrix_rank(self.matrix.as_deref()),
            ContactSort::Score | ContactSort::Velocity | ContactSort::LastTouch => 0,
        }
    }

    /// Every entry of the card but its search terms.
    ///
    /// Only the orders a touch changes anyway carry the score (score, velocity, last
    /// touch). Ranks, the account and the sources stand under entries that stay put
    /// while the score moves: a touch to a known person then rewrites three entries
    /// instead of nine and more, and the lists filtered or ordered by them read the
    /// score order beside them ([`super::query`]).
    pub fn entries(&self, settings: &IndexSettings) -> Vec<Vec<u8>> {
        let id = self.id_bytes();
        let mut entries: Vec<Vec<u8>> = [
            ContactSort::Score,
            ContactSort::Velocity,
            ContactSort::LastTouch,
        ]
        .into_iter()
        .map(|sort| self.sort_entry(sort, settings))
        .collect();
        for sort in [
            ContactSort::Trend,
            ContactSort::Stage,
            ContactSort::Fit,
            ContactSort::Matrix,
        ] {
            if let Some(tag) = rank_tag(sort) {
                entries.push(entry(CONTACT, tag, &[&[self.rank(sort, settings)]], &id));
            }
        }
        if let Some(account) = &self.account {
            entries.push(entry(CONTACT, IN_ACCOUNT, &[&with_end(account)], &id));
        }
        for source in &self.sources {
            entries.push(entry(CONTACT, SOURCE, &[&with_end(source)], &id));
        }
        // Search terms stand under keyed hashes, added by the caller that holds the
        // store's secret (`term_entries`).
        entries
    }

    /// The entries of the card's search terms, given the store's keyed hash. The
    /// public id (`c_<id>`) has none: a search for one reads the cards of the ids it
    /// can name ([`public_id_ranges`]).
    pub fn term_entries(&self, hash: impl Fn(&[u8]) -> [u8; 32]) -> Vec<Vec<u8>> {
        let id = self.id_bytes();
        let public = Contact::public_id(self.id);
        let searched: Vec<String> = self
            .terms
            .iter()
            .filter(|term| **term != public)
            .cloned()
            .collect();
        term_prefixes(&searched)
            .into_iter()
            .map(|prefix| {
                let mut key = hashed_term_range(&hash(&term_hash_input(prefix)));
                key.extend_from_slice(&id);
                key.extend_from_slice(&(id.len() as u16).to_be_bytes());
                key
            })
            .collect()
    }
}

/// The ids, as `[low, high)` ranges, whose public id (`c_<id>`) starts with
/// `search`: `c_12` names 12, 120 to 129, 1200 to 1299, and so on.
pub(super) fn public_id_ranges(search: &str) -> Vec<(u64, u64)> {
    let Some(digits) = search.strip_prefix("c_") else {
        return Vec::new();
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let Ok(first) = digits.parse::<u64>() else {
        return Vec::new();
    };
    // Ids are written without leading zeros: `c_0` is 0 alone and `c_01` nobody.
    if digits.starts_with('0') {
        return if digits.len() == 1 {
            vec![(0, 1)]
        } else {
            Vec::new()
        };
    }
    let mut ranges = Vec::new();
    let mut scale: u64 = 1;
    while let Some(low) = first.checked_mul(scale) {
        let high = first
            .checked_add(1)
            .and_then(|next| next.checked_mul(scale))
            .unwrap_or(u64::MAX);
        ranges.push((low, high));
        match scale.checked_mul(10) {
            Some(next) => scale = next,
            None => break,
        }
    }
    ranges
}

/// The tag of a sort by a field of few values, whose entries hold the rank alone.
pub(super) fn rank_tag(sort: ContactSort) -> Option<u8> {
    match sort {
        ContactSort::Trend => Some(TREND),
        ContactSort::Stage => Some(STAGE),
        ContactSort::Fit => Some(FIT),
        ContactSort::Matrix => Some(MATRIX),
        ContactSort::Score | ContactSort::Velocity | ContactSort::LastTouch => None,
    }
}

/// The first bytes of every entry of a filter's range.
pub(super) fn contact_range(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut prefix = vec![CONTACT, tag];
    prefix.extend_from_slice(value);
    prefix
}

pub(super) fn text_value(value: &str) -> Vec<u8> {
    with_end(value)
}

pub(super) fn term_prefix(kind: u8, term: &str) -> Vec<u8> {
    let mut prefix = vec![kind, TERM];
    prefix.extend_from_slice(&text(term));
    prefix
}

pub(super) fn card_key(kind: u8, id: &[u8]) -> Vec<u8> {
    let mut key = vec![kind, CARD];
    key.extend_from_slice(id);
    key
}

impl AccountCard {
    pub fn of(account: &Account) -> AccountCard {
        let name = account_name(&account.key, &account.group);
        let visible = account.visible.as_ref();
        let mut terms = vec![
            search_term(&account.key),
            search_term(&name),
            search_term(account.key.split_once(':').map_or("", |(_, rest)| rest)),
        ];
        terms.retain(|term| !term.is_empty());
        terms.sort();
        terms.dedup();
        AccountCard {
            key: account.key.clone(),
            name,
            score: visible.map_or(0, |v| v.score),
            trend: visible.map(|v| v.trend).unwrap_or_default(),
            people_engaged: visible.map_or(0, |v| v.people_engaged.min(u32::MAX as usize) as u32),
            members: account.group.members,
            terms,
        }
    }

    pub fn sort_entry(&self, sort: AccountSort) -> Vec<u8> {
        let id = text(&self.key);
        let score = [self.score];
        match sort {
            AccountSort::Score => entry(ACCOUNT, SCORE, &[&score], &id),
            AccountSort::Trend => entry(ACCOUNT, TREND, &[&[trend_rank(self.trend)], &score], &id),
            AccountSort::People => entry(
                ACCOUNT,
                PEOPLE,
                &[&self.people_engaged.to_be_bytes(), &score],
                &id,
            ),
            AccountSort::Name => entry(ACCOUNT, NAME, &[&with_end(&self.name.to_lowercase())], &id),
        }
    }

    pub fn entries(&self) -> Vec<Vec<u8>> {
        let mut entries: Vec<Vec<u8>> = [
            AccountSort::Score,
            AccountSort::Trend,
            AccountSort::People,
            AccountSort::Name,
        ]
        .into_iter()
        .map(|sort| self.sort_entry(sort))
        .collect();
        let id = text(&self.key);
        for term in &self.terms {
            entries.push(entry(ACCOUNT, TERM, &[&with_end(term)], &id));
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::{decay, ScoringConfig};

    #[test]
    fn the_score_key_orders_contacts_as_their_attention_at_any_time() {
        let config = ScoringConfig::default();
        let h = config.half_life_days;
        let day = MILLIS_PER_DAY as i64;
        let t0 = 1_790_000_000_000;
        // (raw, as_of): written at different times, read later.
        let contacts = [
            (10.0, t0),
            (30.0, t0 - 40 * day),
            (4.0, t0 + 3 * day),
            (0.0, 0),
            (-5.0, t0),
            (-1.0, t0 - 10 * day),
            (12.0, t0 - day),
        ];
        for later in [t0 + 3 * day, t0 + 30 * day, t0 + 400 * day] {
            let mut by_key: Vec<usize> = (0..contacts.len()).collect();
            by_key.sort_by_key(|&i| score_key(contacts[i].0, contacts[i].1, h));
            let mut by_value = by_key.clone();
            by_value.sort_by(|&a, &b| {
                let at = |i: usize| decay(contacts[i].0, contacts[i].1, later, h);
                at(a).total_cmp(&at(b))
            });
            assert_eq!(by_key, by_value, "at {later}");
        }
    }

    #[test]
    fn numbers_in_keys_keep_their_order_and_never_hold_a_byte_ff() {
        let integers = [i64::MIN, -1_000_000, -256, -1, 0, 1, 255, 1 << 40, i64::MAX];
        let keys: Vec<_> = integers.iter().map(|&v| ordered_i64(v)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        let floats = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -1e-300,
            0.0,
            1e-300,
            1.0,
            2.5,
            1e300,
        ];
        let keys_f: Vec<_> = floats.iter().map(|&v| ordered_f64(v)).collect();
        assert!(keys_f.windows(2).all(|pair| pair[0] < pair[1]));
        for key in keys.iter().chain(&keys_f) {
            assert!(!key.contains(&0xFF), "{key:?}");
        }
        assert!(!ordered_f64(-0.0).contains(&0xFF));
    }

    #[test]
    fn ids_are_read_back_from_any_entry() {
        let key = entry(CONTACT, SCORE, &[&[1, 2, 3]], &42u64.to_be_bytes());
        assert_eq!(id_of(&key), Some(&42u64.to_be_bytes()[..]));
        let key = entry(ACCOUNT, NAME, &[b"acme\0"], b"domain:acme.com");
        assert_eq!(id_of(&key), Some(&b"domain:acme.com"[..]));
        assert_eq!(id_of(&[1]), None);
        assert_eq!(id_of(&[0xff, 0xff]), None);
    }

    #[test]
    fn a_public_id_search_names_every_id_written_with_its_digits_first() {
        let ranges = public_id_ranges("c_12");
        assert_eq!(&ranges[..3], [(12, 13), (120, 130), (1200, 1300)]);
        assert!(ranges.iter().all(|&(low, high)| low < high));
        assert_eq!(ranges.last().map(|r| r.0), Some(12 * 10u64.pow(18)));
        assert_eq!(public_id_ranges("c_0"), [(0, 1)]);
        for nothing in ["c_", "c_01", "c_1a", "12", "c_99999999999999999999"] {
            assert_eq!(public_id_ranges(nothing), [], "{nothing}");
        }
    }

    #[test]
    fn matrix_cells_rank_best_first() {
        let ranks: Vec<u8> = ["A1", "A4", "B1", "D4", "E1", "A9", "A12"]
            .iter()
            .map(|cell| matrix_rank(Some(cell)))
            .collect();
        assert_eq!(ranks, [44, 41, 34, 11, 0, 0, 0]);
    }
}
