//! The people and account lists: a page of index cards, scored as of the moment
//! asked, with where the next page starts.

use crate::clock::rfc3339;
use crate::model::Millis;
use crate::numbers::grouped;
use crate::scoring::{self, ScoringConfig};
use crate::store::index::{AccountCard, AccountQuery, ContactCard, ContactQuery};
use crate::store::{Contact, Store, StoreError};
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

/// One row of the people list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRow {
    /// `c_<n>`: the contact's id in every link.
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The buying group the person counts in.
    pub account: Option<String>,
    /// 0–100, as of now.
    pub score: u8,
    /// `rising`, `steady` or `fading`, as last pushed.
    pub trend: String,
    /// Change of raw attention over the last 7 days, as last pushed.
    pub velocity: i64,
    pub qualification_stage: Option<String>,
    pub stage_changed_at: Option<String>,
    pub fit_grade: Option<String>,
    pub attention_matrix: Option<String>,
    pub last_touch_at: Option<String>,
    /// The sources whose touches the person has.
    pub sources: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeopleView {
    pub contacts: Vec<PersonRow>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
    /// Set while the lists are being built anew; `null` once they are whole.
    pub indexing: Option<Indexing>,
}

/// The lists are being built anew (after an upgrade that changed them, or a new
/// `scoring.half_life_days` or stage ladder), which takes minutes on a large store.
/// Until then a list holds only the people indexed so far.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Indexing {
    /// People indexed so far.
    pub indexed: u64,
    /// People in the store; `null` until they are counted.
    pub contacts: Option<u64>,
}

impl Indexing {
    pub fn of(store: &Store) -> Result<Option<Indexing>, StoreError> {
        Ok(store.index_progress()?.map(|progress| Indexing {
            indexed: progress.indexed,
            contacts: progress.contacts,
        }))
    }

    /// What the console says meanwhile.
    pub fn notice(&self) -> String {
        let of = match self.contacts {
            Some(contacts) => format!(" of {}", grouped(contacts as f64)),
            None => String::new(),
        };
        format!(
            "The lists are being built anew: {}{of} people indexed so far. Until then they show only those.",
            grouped(self.indexed as f64)
        )
    }
}

/// One row of the account leaderboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountRow {
    pub key: String,
    pub name: String,
    /// 0–100, as last decided (refreshed with decay).
    pub score: u8,
    pub trend: String,
    pub people_engaged: u32,
    pub members: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountsView {
    pub accounts: Vec<AccountRow>,
    pub next_cursor: Option<String>,
    /// Set while the lists are being built anew; `null` once they are whole.
    /// Accounts are indexed after every person.
    pub indexing: Option<Indexing>,
}

/// A page position as the API hands it out: opaque, URL-safe.
pub fn encode_cursor(position: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

pub fn decode_cursor(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

impl PersonRow {
    pub fn of(card: &ContactCard, now: Millis, config: &ScoringConfig) -> PersonRow {
        let raw = scoring::decay(card.raw, card.as_of, now, config.half_life_days);
        PersonRow {
            id: Contact::public_id(card.id),
            email: card.email.clone(),
            name: card.name.clone(),
            account: card.account.clone(),
            score: scoring::score(raw, config),
            trend: card.trend.as_str().to_string(),
            velocity: card.velocity,
            qualification_stage: card.stage.clone(),
            stage_changed_at: card.stage_changed_at.map(rfc3339),
            fit_grade: card.fit_grade.clone(),
            attention_matrix: card.matrix.clone(),
            last_touch_at: card.last_touch_at.map(rfc3339),
            sources: card.sources.clone(),
        }
    }
}

pub fn people(
    store: &Store,
    query: &ContactQuery,
    now: Millis,
    config: &ScoringConfig,
) -> Result<PeopleView, StoreError> {
    let page = store.contact_page(query)?;
    Ok(PeopleView {
        contacts: page
            .items
            .iter()
            .map(|card| PersonRow::of(card, now, config))
            .collect(),
        next_cursor: page.next.as_deref().map(encode_cursor),
        indexing: Indexing::of(store)?,
    })
}

impl From<&AccountCard> for AccountRow {
    fn from(card: &AccountCard) -> AccountRow {
        AccountRow {
            key: card.key.clone(),
            name: card.name.clone(),
            score: card.score,
            trend: card.trend.as_str().to_string(),
            people_engaged: card.people_engaged,
            members: card.members,
        }
    }
}

pub fn accounts(store: &Store, query: &AccountQuery) -> Result<AccountsView, StoreError> {
    let page = store.account_page(query)?;
    Ok(AccountsView {
        accounts: page.items.iter().map(AccountRow::from).collect(),
        next_cursor: page.next.as_deref().map(encode_cursor),
        indexing: Indexing::of(store)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::{AccountSort, ContactFilter, ContactSort, IndexSettings};

    #[test]
    fn lists_read_during_a_build_say_how_far_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut round = store.round();
        for id in 1..=2_100 {
            round
                .put_contact(&Contact::new(id, 1_790_000_000_000))
                .unwrap();
        }
        round.commit(None).unwrap();
        let config = ScoringConfig::default();
        let contacts = ContactQuery {
            sort: ContactSort::Score,
            descending: true,
            filter: ContactFilter::default(),
            after: None,
            limit: 10,
        };
        let accounts = AccountQuery {
            sort: AccountSort::Score,
            descending: true,
            trend: None,
            search: None,
            after: None,
            limit: 10,
        };
        let whole = people(&store, &contacts, 0, &config).unwrap();
        assert!(whole.indexing.is_none());
        assert_eq!(whole.contacts.len(), 10);

        let mut during = Vec::new();
        let settings = IndexSettings {
            half_life_days: 7.0,
            ..IndexSettings::default()
        };
        store
            .ensure_index(settings, |_| {
                let listed = people(&store, &contacts, 0, &config).unwrap();
                during.push(listed.indexing.map(|indexing| indexing.notice()));
                let board = super::accounts(&store, &accounts).unwrap();
                assert!(board.indexing.is_some());
            })
            .unwrap();
        assert_eq!(
            during,
            [Some(
                "The lists are being built anew: 2,048 of 2,100 people indexed so far. \
                 Until then they show only those."
                    .to_string()
            )]
        );
        assert!(people(&store, &contacts, 0, &config)
            .unwrap()
            .indexing
            .is_none());
        assert!(super::accounts(&store, &accounts)
            .unwrap()
            .indexing
            .is_none());
    }
}
