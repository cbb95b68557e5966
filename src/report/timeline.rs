//! Each person's history replayed under the scoring in force, in the order it
//! happened: their score, stage and fit at given dates (the stage climbing at touches
//! and falling with decay, as the ladder's hysteresis has it), when they first
//! reached the qualified stage (and again after falling back), the touches after which they were engaged, and the
//! campaign, asset and source every touch came through.

use super::ReportConfig;
use crate::learn::History;
use crate::model::{Millis, MILLIS_PER_DAY};
use crate::scoring::fit::Grade;
use crate::scoring::qualify::{self, Person};
use crate::scoring::{self, Attention, ScoringConfig};
use crate::store::{Contact, Store, StoreError};
use std::collections::{BTreeMap, HashMap};

/// A person at one date.
#[derive(Debug, Clone)]
pub struct Point {
    pub raw: f64,
    pub score: u8,
    /// Index into the ladder (`[[scoring.stages]]`).
    pub stage: usize,
    pub grade: Grade,
}

/// One touch with what it came through.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub at: Millis,
    pub points: f64,
    pub source: String,
    pub campaign: Option<String>,
    pub asset: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Per checkpoint (the times given to [`replay`]): `None` before the first touch.
    pub points: Vec<Option<Point>>,
    /// Each time they entered the qualified stage (or one above) from below.
    pub qualified: Vec<Millis>,
    /// Touches after which their score reached the accounts' `engaged_score`.
    pub engaged: Vec<Millis>,
    /// Their score when each opportunity of theirs (or their account's) was created.
    pub at_deals: BTreeMap<String, u8>,
    pub touches: Vec<Labelled>,
}

/// Every person's timeline, and the checkpoint times their points are at.
pub struct Timelines {
    pub checkpoints: Vec<Millis>,
    pub people: HashMap<u64, Timeline>,
}

impl Timelines {
    /// A person's point at a checkpoint time.
    pub fn at(&self, person: u64, time: Millis) -> Option<&Point> {
        let index = self.checkpoints.binary_search(&time).ok()?;
        self.people.get(&person)?.points.get(index)?.as_ref()
    }
}

/// The campaign a touch belongs to, where its source says: Marketo's `campaign`
/// (or `campaign_id`), Salesforce's campaign member `campaign`, Mailchimp's
/// `campaign_id`, a standard payload's `campaign` or `utm_campaign`.
pub fn campaign(properties: Option<&serde_json::Value>) -> Option<String> {
    first_text(properties, &["campaign", "campaign_id", "utm_campaign"])
}

/// The asset a touch engaged with: Marketo's or a standard payload's `asset`, a
/// Typeform form's title, a Zoom webinar's topic, a Mandrill email's subject.
pub fn asset(properties: Option<&serde_json::Value>) -> Option<String> {
    first_text(properties, &["asset", "form", "topic", "subject"])
}

fn first_text(properties: Option<&serde_json::Value>, names: &[&str]) -> Option<String> {
    let properties = properties?;
    names.iter().find_map(|name| {
        let text = match properties.get(*name)? {
            serde_json::Value::String(text) => text.trim().to_string(),
            serde_json::Value::Number(number) => number.to_string(),
            _ => return None,
        };
        // A label, not a document: long values are cut so a table stays readable.
        (!text.is_empty()).then(|| text.chars().take(80).collect())
    })
}

/// What a profile said at `at`: fields stated later are unknown.
fn profile_at(contact: &Contact, at: Millis) -> BTreeMap<String, String> {
    contact
        .profile
        .iter()
        .filter(|(_, field)| field.at <= at)
        .map(|(name, field)| (name.clone(), field.value.clone()))
        .collect()
}

enum Check<'a> {
    Date(usize),
    Deal(&'a str),
}

/// Replays every person's log, assessing them after each touch and at each
/// checkpoint (`dates` and the given weeks, merged) and each opportunity's creation.
pub fn replay(
    store: &Store,
    history: &History,
    checkpoints: &[Millis],
    config: &ScoringConfig,
    report: &ReportConfig,
) -> Result<Timelines, StoreError> {
    let mut checkpoints = checkpoints.to_vec();
    checkpoints.sort_unstable();
    checkpoints.dedup();
    let qualified = config
        .stages
        .iter()
        .position(|rung| rung.name == report.qualified_stage)
        .unwrap_or(config.stages.len());
    let stage_index = |name: &str| config.stages.iter().position(|r| r.name == name);
    let mut people = HashMap::with_capacity(history.people.len());
    for (id, person) in &history.people {
        let contact = &person.contact;
        let touches = store.touches_of(*id)?;
        let mut checks: Vec<(Millis, Check<'_>)> = checkpoints
            .iter()
            .enumerate()
            .map(|(i, at)| (*at, Check::Date(i)))
            .collect();
        for deal in history.deals_of_person(*id) {
            if let Some(created) = deal.created {
                checks.push((created, Check::Deal(&deal.key)));
            }
        }
        checks.sort_by_key(|(at, _)| *at);
        let mut timeline = Timeline {
            points: vec![None; checkpoints.len()],
            ..Timeline::default()
        };
        let mut attention = Attention::default();
        let mut stage: Option<String> = None;
        let assess = |attention: &Attention, stage: &mut Option<String>, at: Millis| {
            let profile = profile_at(contact, at);
            let verdict = qualify::qualify(
                &Person {
                    attention,
                    profile: &profile,
                    email: contact.email(),
                    stage: stage.as_deref(),
                    stage_changed_at: None,
                    account: None,
                },
                at,
                config,
            );
            *stage = Some(verdict.stage.clone());
            verdict
        };
        let mut next = 0;
        let mut touched = false;
        for (at, check) in checks
            .iter()
            .map(|(at, c)| (*at, Some(c)))
            .chain([(Millis::MAX, None)])
        {
            while next < touches.len() && touches[next].occurred_at <= at {
                let touch = &touches[next];
                next += 1;
                let counted = scoring::count(
                    &mut attention,
                    touch.kind,
                    touch.occurred_at,
                    touch.properties.as_ref(),
                    contact.email(),
                    config,
                );
                touched = true;
                let was = stage
                    .as_deref()
                    .and_then(stage_index)
                    .is_some_and(|i| i >= qualified);
                let verdict = assess(&attention, &mut stage, touch.occurred_at);
                if !was && stage_index(&verdict.stage).is_some_and(|i| i >= qualified) {
                    timeline.qualified.push(touch.occurred_at);
                }
                if verdict.score >= config.accounts.engaged_score {
                    timeline.engaged.push(touch.occurred_at);
                }
                timeline.touches.push(Labelled {
                    at: touch.occurred_at,
                    points: counted.weight,
                    source: touch.source.clone(),
                    campaign: campaign(touch.properties.as_ref()),
                    asset: asset(touch.properties.as_ref()),
                });
            }
            let Some(check) = check else { break };
            if !touched {
                continue;
            }
            let was = stage
                .as_deref()
                .and_then(stage_index)
                .is_some_and(|i| i >= qualified);
            let verdict = assess(&attention, &mut stage, at);
            if !was && stage_index(&verdict.stage).is_some_and(|i| i >= qualified) {
                timeline.qualified.push(at);
            }
            match check {
                Check::Date(index) => {
                    timeline.points[*index] = Some(Point {
                        raw: attention.raw_at(at, config),
                        score: verdict.score,
                        stage: stage_index(&verdict.stage).unwrap_or(0),
                        grade: verdict.fit.grade,
                    });
                }
                Check::Deal(key) => {
                    timeline.at_deals.insert(key.to_string(), verdict.score);
                }
            }
        }
        people.insert(*id, timeline);
    }
    Ok(Timelines {
        checkpoints,
        people,
    })
}

/// Whether `times` (ascending) holds one in `(to − days, to]`.
pub fn any_within(times: &[Millis], to: Millis, days: f64) -> bool {
    let from = to - (days * MILLIS_PER_DAY) as Millis;
    let start = times.partition_point(|&t| t <= from);
    times.get(start).is_some_and(|&t| t <= to)
}
