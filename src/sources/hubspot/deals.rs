//! A deal's people, companies and amount, read from HubSpot's CRM API when a deal
//! webhook names only the deal. The requests and answers are HubSpot's; the reading
//! is pure, and the `links` room does the calls.
//!
//! - `POST /crm/v3/objects/deals/batch/read` with `{"properties": [...], "inputs":
//!   [{"id"}]}` answers `{"status", "results": [{"id", "properties": {...}}], ...}`
//!   (`BatchResponseSimplePublicObject`; a 207 adds `errors` for unknown ids).
//! - `POST /crm/v4/associations/deals/{contacts|companies}/batch/read` with
//!   `{"inputs": [{"id"}]}` answers `{"status", "results": [{"from": {"id"}, "to":
//!   [{"toObjectId", "associationTypes": [{"category", "typeId", "label"}]}]}]}`
//!   (`BatchResponsePublicAssociationMulti` of the v4 associations API).
//!
//! Shapes as generated in HubSpot's client libraries (hubspot-api-nodejs,
//! `codegen/crm/associations/v4/models` and `codegen/crm/deals/models`).

use super::contact;
use crate::model::{Event, EventBody, Millis, Outcome, OutcomeKind};
use crate::sources::{Accepted, SourceError};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Deals per call: HubSpot's batch limit for object reads.
pub const BATCH: usize = 100;

/// The deal properties read.
pub const PROPERTIES: &[&str] = &[
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "createdate",
    "closedate",
];

/// The id of a deal from its opportunity key, `hubspot-deal:<id>`.
pub fn deal_id(opportunity: &str) -> Option<&str> {
    opportunity
        .strip_prefix("hubspot-deal:")
        .filter(|id| !id.is_empty())
}

/// The body of the deals' batch read.
pub fn read_body(ids: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "properties": PROPERTIES,
        "inputs": ids.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>(),
    })
}

/// The body of an associations batch read.
pub fn associations_body(ids: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "inputs": ids.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
struct Batch<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
}

#[derive(Deserialize)]
struct Deal {
    id: String,
    #[serde(default)]
    properties: BTreeMap<String, Option<String>>,
}

#[derive(Deserialize)]
struct Associations {
    from: From,
    #[serde(default)]
    to: Vec<To>,
}

#[derive(Deserialize)]
struct From {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct To {
    to_object_id: serde_json::Number,
    #[serde(default)]
    association_types: Vec<AssociationType>,
}

#[derive(Deserialize)]
struct AssociationType {
    #[serde(default)]
    label: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, answer: &[u8]) -> Result<Vec<T>, SourceError> {
    serde_json::from_slice::<Batch<T>>(answer)
        .map(|batch| batch.results)
        .map_err(|error| SourceError::malformed(format!("HubSpot {what} answer: {error}")))
}

/// One `linked` outcome per deal asked about, read at `read_at`: its contacts, its
/// company (the one labelled `Primary`, else the first), amount, currency and stage.
/// A deal HubSpot no longer knows is answered with nobody, so it stops waiting.
pub fn links(
    ids: &[&str],
    deals: &[u8],
    contacts: &[u8],
    companies: &[u8],
    read_at: Millis,
) -> Result<Accepted, SourceError> {
    let deals: BTreeMap<String, Deal> = parse::<Deal>("deals", deals)?
        .into_iter()
        .map(|deal| (deal.id.clone(), deal))
        .collect();
    let to_map = |associations: Vec<Associations>| -> BTreeMap<String, Vec<To>> {
        associations
            .into_iter()
            .map(|association| (association.from.id, association.to))
            .collect()
    };
    let contacts = to_map(parse("contact associations", contacts)?);
    let mut companies = to_map(parse("company associations", companies)?);
    let events = ids
        .iter()
        .map(|id| {
            let properties = deals.get(*id).map(|deal| &deal.properties);
            let property = |name: &str| {
                properties
                    .and_then(|p| p.get(name).cloned().flatten())
                    .filter(|value| !value.trim().is_empty())
            };
            let people = contacts
                .get(*id)
                .map(|to| to.iter().map(|to| contact(&to.to_object_id)).collect())
                .unwrap_or_default();
            let company = companies.remove(*id).and_then(|mut to| {
                let primary = to.iter().position(|to| {
                    to.association_types
                        .iter()
                        .any(|t| t.label.as_deref() == Some("Primary"))
                });
                (!to.is_empty()).then(|| to.swap_remove(primary.unwrap_or(0)))
            });
            Event {
                provider_id: format!("deal-lookup:{id}:{read_at}"),
                body: EventBody::Outcome(Outcome {
                    people,
                    account: company.map(|to| format!("hubspot-company:{}", to.to_object_id)),
                    kind: OutcomeKind::Linked,
                    opportunity: Some(format!("hubspot-deal:{id}")),
                    stage: property("dealstage"),
                    amount: property("amount").and_then(|a| a.trim().parse().ok()),
                    currency: property("deal_currency_code"),
                    occurred_at: read_at,
                    ..Outcome::default()
                }),
            }
        })
        .collect();
    Ok(Accepted { events })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Identity;

    // A deals batch read answer as HubSpot gives it (BatchResponseSimplePublicObject);
    // 9002 is unknown to HubSpot and missing from the results.
    const DEALS: &str = r#"{"status":"COMPLETE","results":[{"id":"9001","properties":{"amount":"42000","deal_currency_code":"EUR","dealstage":"appointmentscheduled","pipeline":"default","createdate":"2026-11-20T09:00:00.000Z","closedate":null,"hs_object_id":"9001"},"createdAt":"2026-11-20T09:00:00.000Z","updatedAt":"2026-11-21T09:00:00.000Z","archived":false}],"startedAt":"2026-11-21T10:00:00.000Z","completedAt":"2026-11-21T10:00:00.100Z"}"#;
    const CONTACTS: &str = r#"{"status":"COMPLETE","results":[{"from":{"id":"9001"},"to":[{"toObjectId":51,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":3,"label":null}]},{"toObjectId":52,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":3,"label":null}]}]}],"startedAt":"2026-11-21T10:00:00.000Z","completedAt":"2026-11-21T10:00:00.100Z"}"#;
    const COMPANIES: &str = r#"{"status":"COMPLETE","results":[{"from":{"id":"9001"},"to":[{"toObjectId":7,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":341,"label":null}]},{"toObjectId":100,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":5,"label":"Primary"},{"category":"HUBSPOT_DEFINED","typeId":341,"label":null}]}]}],"startedAt":"2026-11-21T10:00:00.000Z","completedAt":"2026-11-21T10:00:00.100Z"}"#;

    #[test]
    fn a_deal_read_links_its_contacts_primary_company_and_amount() {
        let events = links(
            &["9001", "9002"],
            DEALS.as_bytes(),
            CONTACTS.as_bytes(),
            COMPANIES.as_bytes(),
            5_000,
        )
        .unwrap()
        .into_events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].provider_id, "deal-lookup:9001:5000");
        assert_eq!(
            events[0].body,
            EventBody::Outcome(Outcome {
                people: vec![
                    Identity::crm("hubspot", "51"),
                    Identity::crm("hubspot", "52")
                ],
                account: Some("hubspot-company:100".into()),
                kind: OutcomeKind::Linked,
                opportunity: Some("hubspot-deal:9001".into()),
                stage: Some("appointmentscheduled".into()),
                amount: Some(42000.0),
                currency: Some("EUR".into()),
                occurred_at: 5_000,
                ..Outcome::default()
            })
        );
        // Unknown to HubSpot: answered with nobody, so it stops waiting.
        let EventBody::Outcome(gone) = &events[1].body else {
            panic!("not an outcome")
        };
        assert!(gone.people.is_empty() && gone.account.is_none());
        assert_eq!(gone.kind, OutcomeKind::Linked);
    }

    #[test]
    fn request_bodies_name_the_deals() {
        assert_eq!(
            read_body(&["1", "2"])["inputs"],
            serde_json::json!([{"id": "1"}, {"id": "2"}])
        );
        assert_eq!(
            associations_body(&["3"]),
            serde_json::json!({"inputs": [{"id": "3"}]})
        );
        assert_eq!(deal_id("hubspot-deal:9001"), Some("9001"));
        assert_eq!(deal_id("salesforce:006"), None);
    }

    #[test]
    fn an_answer_that_is_not_hubspot_s_says_so() {
        let error = links(&["1"], b"<html>", b"{}", b"{}", 0).unwrap_err();
        assert!(
            error.to_string().contains("HubSpot deals answer"),
            "{error}"
        );
    }
}
