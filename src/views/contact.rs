//! The contact as the admin API and `attentiond contact` show it.

use super::account::account_line;
use crate::clock::rfc3339;
use crate::model::{ContactKey, Identity, Millis};
use crate::scoring::{self, ScoringConfig};
use crate::store::{Contact, Store, StoreError, StoredOutcome, StoredTouch};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: String,
    pub emails: Vec<String>,
    pub crm_ids: BTreeMap<String, String>,
    pub anonymous_ids: Vec<String>,
    pub account: Option<String>,
    pub score: u8,
    pub raw: f64,
    #[schema(value_type = String)]
    pub trend: &'static str,
    pub touch_count: u64,
    pub last_touch_at: Option<String>,
    pub reasons: Vec<String>,
    /// Fit to the ideal customer profile, `A` (best) to `D`.
    #[schema(value_type = String)]
    pub fit_grade: &'static str,
    pub fit_points: f64,
    pub fit_reasons: Vec<String>,
    /// Required profile fields not known yet.
    pub fit_missing: Vec<String>,
    /// Fit grade and attention band: `A1` … `D4`.
    pub attention_matrix: String,
    /// Change of raw attention over the last 7 days.
    pub attention_velocity: f64,
    pub qualification_stage: Option<String>,
    pub stage_changed_at: Option<String>,
    /// Every stage change with its time and reason, oldest first.
    pub stage_history: Vec<StageChangeView>,
    /// The buying group the person counts in.
    pub account_key: Option<String>,
    pub touches: Vec<TouchView>,
    /// Field → value, with the source and time that stated it.
    pub profile: BTreeMap<String, ProfileView>,
    /// Revenue events, newest first.
    pub outcomes: Vec<OutcomeView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StageChangeView {
    pub from: Option<String>,
    pub to: String,
    pub at: String,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    pub value: String,
    pub source: String,
    pub at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutcomeView {
    pub id: String,
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub occurred_at: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TouchView {
    pub id: String,
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub occurred_at: String,
    pub source: String,
    /// What it counts fresh: both memories together.
    pub weight: f64,
    /// Of which at the short memory, when `[scoring.short_memory]` gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_weight: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the platform reported beside the kind and time (page, campaign, minutes
    /// attended, `time_source` = `received` when the message carried no time).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<serde_json::Value>,
}

impl ContactView {
    pub fn build(
        contact: &Contact,
        touches: &[StoredTouch],
        outcomes: &[StoredOutcome],
        account_line: Option<&str>,
        now: Millis,
        config: &ScoringConfig,
    ) -> ContactView {
        let mut emails = Vec::new();
        let mut crm_ids = BTreeMap::new();
        let mut anonymous_ids = Vec::new();
        for identity in &contact.identities {
            match identity {
                Identity::Email(address) => emails.push(address.clone()),
                Identity::Crm { system, id } => {
                    crm_ids.insert(system.clone(), id.clone());
                }
                Identity::Anonymous(id) => anonymous_ids.push(id.clone()),
            }
        }
        let raw = contact.attention.raw_at(now, config);
        let score = scoring::score(raw, config);
        let profile: BTreeMap<String, String> = contact
            .profile
            .iter()
            .map(|(name, field)| (name.clone(), field.value.clone()))
            .collect();
        let fit = scoring::fit::fit(&profile, contact.email(), &config.fit);
        // Recounted under the current settings, in the log's time order, so that
        // the weights shown add up to the score shown even after a rescore.
        let mut recount = scoring::Attention::default();
        let mut touches: Vec<TouchView> = touches
            .iter()
            .map(|touch| {
                let counted = scoring::count(
                    &mut recount,
                    touch.kind,
                    touch.occurred_at,
                    touch.properties.as_ref(),
                    contact.email(),
                    config,
                );
                TouchView {
                    id: touch.id.clone(),
                    kind: touch.kind.as_str(),
                    occurred_at: rfc3339(touch.occurred_at),
                    source: touch.source.clone(),
                    weight: counted.weight,
                    short_weight: (!config.short_memory.weights.is_empty())
                        .then_some(counted.short),
                    notes: counted.notes,
                    properties: touch.properties.clone(),
                }
            })
            .collect();
        // Newest first: what a rep asks about is what just happened.
        touches.reverse();
        ContactView {
            id: Contact::public_id(contact.id),
            emails,
            crm_ids,
            anonymous_ids,
            account: contact.account.clone(),
            score,
            raw: (raw * 1000.0).round() / 1000.0,
            trend: scoring::trend(&contact.attention, now, config).as_str(),
            touch_count: contact.touch_count,
            last_touch_at: contact.attention.last_touch_at().map(rfc3339),
            reasons: shown_reasons(contact, &profile, account_line, now, config),
            fit_grade: fit.grade.as_str(),
            fit_points: fit.points,
            attention_matrix: scoring::fit::matrix(fit.grade, score, config.attention_bands),
            fit_reasons: fit.reasons,
            fit_missing: fit.missing,
            attention_velocity: (contact.attention.velocity_at(now, config) * 1000.0).round()
                / 1000.0,
            qualification_stage: contact.stage.clone(),
            stage_changed_at: contact.stage_changed_at.map(rfc3339),
            stage_history: contact
                .stage_history
                .iter()
                .map(|change| StageChangeView {
                    from: change.from.clone(),
                    to: change.to.clone(),
                    at: rfc3339(change.at),
                    reason: change.reason.clone(),
                })
                .collect(),
            account_key: contact.account_key.clone(),
            touches,
            profile: contact
                .profile
                .iter()
                .map(|(name, field)| {
                    (
                        name.clone(),
                        ProfileView {
                            value: field.value.clone(),
                            source: field.source.clone(),
                            at: rfc3339(field.at),
                        },
                    )
                })
                .collect(),
            outcomes: outcomes.iter().rev().map(OutcomeView::from).collect(),
        }
    }
}

/// The reasons a rep reads in the CRM: fit, attention, stage.
fn shown_reasons(
    contact: &Contact,
    profile: &BTreeMap<String, String>,
    account_line: Option<&str>,
    now: Millis,
    config: &ScoringConfig,
) -> Vec<String> {
    let person = scoring::qualify::Person {
        attention: &contact.attention,
        profile,
        email: contact.email(),
        stage: contact.stage.as_deref(),
        stage_changed_at: contact.stage_changed_at,
        account: account_line,
    };
    let mut verdict = scoring::qualify::qualify(&person, now, config);
    // The stage as stored: the view shows, it does not decide.
    if let Some(stage) = &contact.stage {
        verdict.stage = stage.clone();
        verdict.stage_changed_at = contact.stage_changed_at;
    }
    scoring::qualify::visible(&person, &verdict, now, config).reasons
}

impl From<&StoredOutcome> for OutcomeView {
    fn from(stored: &StoredOutcome) -> OutcomeView {
        let outcome = &stored.outcome;
        OutcomeView {
            id: stored.id.clone(),
            kind: outcome.kind.as_str(),
            occurred_at: rfc3339(outcome.occurred_at),
            source: stored.source.clone(),
            account: outcome.account.clone(),
            opportunity: outcome.opportunity.clone(),
            stage: outcome.stage.clone(),
            amount: outcome.amount,
            currency: outcome.currency.clone(),
        }
    }
}

/// Finds a contact by id or any of its identities and shows it as of `now`.
pub fn contact_view(
    store: &Store,
    key: &ContactKey,
    now: Millis,
    config: &ScoringConfig,
) -> Result<Option<ContactView>, StoreError> {
    let Some(contact) = store.find_contact(key)? else {
        return Ok(None);
    };
    let id = contact.id;
    let touches = store.touches_of(id)?;
    let outcomes = store.outcomes_of(id)?;
    let account_line = account_line(store, &contact, now, config)?;
    Ok(Some(ContactView::build(
        &contact,
        &touches,
        &outcomes,
        account_line.as_deref(),
        now,
        config,
    )))
}
