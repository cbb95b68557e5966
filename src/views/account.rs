//! The account as the admin API shows it: its buying group scored as of now.

use crate::model::Millis;
use crate::scoring::account::{account_name, member_score, score_group};
use crate::scoring::ScoringConfig;
use crate::store::{Contact, Store, StoreError};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub key: String,
    pub name: String,
    pub score: u8,
    pub raw: f64,
    #[schema(value_type = String)]
    pub trend: &'static str,
    pub people_engaged: usize,
    pub engaged_this_week: usize,
    pub roles_covered: Vec<String>,
    pub roles_missing: Vec<String>,
    pub reasons: Vec<String>,
    /// Most attentive first.
    pub members: Vec<MemberView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: Option<String>,
    pub title: Option<String>,
    pub score: u8,
    pub engaged: bool,
    pub roles: Vec<String>,
    pub qualification_stage: Option<String>,
}

/// What the contact's account adds to their reasons as of `now` ("4 people from
/// acme.com engaged this week").
pub fn account_line(
    store: &Store,
    contact: &Contact,
    now: Millis,
    config: &ScoringConfig,
) -> Result<Option<String>, StoreError> {
    let Some(key) = &contact.account_key else {
        return Ok(None);
    };
    let Some(account) = store.account(key)? else {
        return Ok(None);
    };
    let name = account_name(key, &account.group);
    Ok(score_group(&name, &account.group, now, config).member_line)
}

/// The account a user names: its key (`hubspot-company:42`, `salesforce:001…`,
/// `domain:acme.com`), or a bare domain, which is what reasons call a domain
/// account ("3 people from acme.com") and so what a rep pastes; a domain whose people
/// are in a CRM account finds that account. Scored as of `now`.
pub fn account_view(
    store: &Store,
    key: &str,
    now: Millis,
    config: &ScoringConfig,
) -> Result<Option<AccountView>, StoreError> {
    let found = match store.account(key)? {
        None if !key.contains(':') => {
            // A bare domain: the domain's own account, else the CRM account its
            // people were seen in.
            let domain = key.to_ascii_lowercase();
            let domain_key = format!("domain:{domain}");
            match store.account(&domain_key)? {
                Some(account) => Some((domain_key, account)),
                None => match store.domain_account(&domain)? {
                    Some(crm_key) => store.account(&crm_key)?.map(|account| (crm_key, account)),
                    None => None,
                },
            }
        }
        found => found.map(|account| (key.to_string(), account)),
    };
    let Some((key, account)) = found else {
        return Ok(None);
    };
    let name = account_name(&key, &account.group);
    let scored = score_group(&name, &account.group, now, config);
    let members = store.account_members(&key)?;
    let mut member_views = Vec::with_capacity(members.len());
    for known in &members {
        let member = member_score(known, now, config);
        let contact = store.contact(member.id)?;
        member_views.push(MemberView {
            id: Contact::public_id(member.id),
            email: contact.as_ref().and_then(|c| c.email().map(str::to_string)),
            title: known.title.clone(),
            score: member.score,
            engaged: member.engaged,
            roles: member.roles.clone(),
            qualification_stage: contact.and_then(|c| c.stage),
        });
    }
    member_views.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    Ok(Some(AccountView {
        key,
        name,
        score: scored.score,
        raw: (scored.raw * 1000.0).round() / 1000.0,
        trend: scored.trend.as_str(),
        people_engaged: scored.people_engaged,
        engaged_this_week: scored.engaged_this_week,
        roles_covered: scored.roles_covered,
        roles_missing: scored.roles_missing,
        reasons: scored.reasons,
        members: member_views,
    }))
}
