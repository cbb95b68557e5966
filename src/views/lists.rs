//! The people and account lists: a page of index cards, scored as of the moment
//! asked, with where the next page starts.

use crate::clock::rfc3339;
use crate::model::Millis;
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
    })
}
