//! Qualification: fit, velocity and stage together, and the fields a rep sees.
//! Pure: the person and the time in, the verdict out.

use super::fit::{self, Fit};
use super::stage::{self, Facts};
use super::{reasons, score, trend, Attention, ScoringConfig, Visible};
use crate::model::{Millis, TouchKind};
use std::collections::BTreeMap;

/// What is known about a person, as the ladder needs it.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub attention: &'a Attention,
    pub profile: &'a BTreeMap<String, String>,
    pub email: Option<&'a str>,
    pub stage: Option<&'a str>,
    pub stage_changed_at: Option<Millis>,
    /// What their buying group shows, e.g. "4 people from acme.com engaged this
    /// week" ([`super::account::AccountScore::member_line`]).
    pub account: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Qualification {
    pub score: u8,
    pub fit: Fit,
    /// Change of raw attention over the last 7 days.
    pub velocity: f64,
    pub stage: String,
    /// Why the stage changed now; `None` when it did not.
    pub change: Option<String>,
    pub stage_changed_at: Option<Millis>,
    /// "Do not contact": the stage cannot move.
    pub frozen: bool,
}

/// A person asked not to be contacted: a `do_not_contact` profile field that says
/// so, an unsubscribe or a spam complaint. Their stage stays where it is.
pub fn do_not_contact(profile: &BTreeMap<String, String>, attention: &Attention) -> bool {
    let stated = profile.get("do_not_contact").is_some_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "y"
        )
    });
    stated
        || attention.kinds.contains_key(&TouchKind::Unsubscribe)
        || attention.kinds.contains_key(&TouchKind::SpamComplaint)
}

pub fn qualify(person: &Person<'_>, now: Millis, config: &ScoringConfig) -> Qualification {
    let score = score(person.attention.raw_at(now, config), config);
    let fit = fit::fit(person.profile, person.email, &config.fit);
    let velocity = person.attention.velocity_at(now, config);
    let frozen = do_not_contact(person.profile, person.attention);
    let facts = Facts {
        score,
        fit: fit.grade,
        velocity,
        missing: &fit.missing,
        frozen,
    };
    let (stage, why) = stage::next_stage(&config.stages, person.stage, &facts);
    let changed = person.stage != Some(stage.as_str());
    let change = changed.then(|| why.unwrap_or_else(|| "ladder changed".into()));
    Qualification {
        score,
        fit,
        velocity,
        stage_changed_at: if changed {
            Some(now)
        } else {
            person.stage_changed_at
        },
        stage,
        change,
        frozen,
    }
}

/// Everything a rep sees: attention, fit, stage, with reasons that cover all three.
pub fn visible(
    person: &Person<'_>,
    verdict: &Qualification,
    now: Millis,
    config: &ScoringConfig,
) -> Visible {
    let mut lines = Vec::new();
    if let Some(line) = fit_line(person.profile, &verdict.fit) {
        lines.push(line);
    }
    lines.extend(person.account.map(str::to_string));
    lines.extend(reasons(person.attention, now, config));
    if verdict.stage != config.stages[0].name {
        if let Some(at) = verdict.stage_changed_at {
            lines.push(format!(
                "{} since {}",
                stage_words(&verdict.stage),
                day(at, now)
            ));
        }
    }
    Visible {
        score: verdict.score,
        trend: trend(person.attention, now, config),
        reasons: lines,
        last_touch_at: person.attention.last_touch_at(),
        stage: verdict.stage.clone(),
        stage_changed_at: verdict.stage_changed_at,
        fit_grade: verdict.fit.grade.as_str().into(),
        matrix: fit::matrix(verdict.fit.grade, verdict.score, config.attention_bands),
        velocity: verdict.velocity.round() as i64,
    }
}

/// A stage as a rep says it: `sales_ready` → "sales ready", `mql` → "MQL".
pub fn stage_words(stage: &str) -> String {
    const ACRONYMS: &[&str] = &["mql", "sql", "sal", "pql"];
    if ACRONYMS.contains(&stage.to_ascii_lowercase().as_str()) {
        return stage.to_ascii_uppercase();
    }
    stage.replace('_', " ")
}

/// "3 Dec", with the year when it is not this year's: "3 Dec 2025".
fn day(at: Millis, now: Millis) -> String {
    let (Some(time), Some(today)) = (
        chrono::DateTime::from_timestamp_millis(at),
        chrono::DateTime::from_timestamp_millis(now),
    ) else {
        return String::new();
    };
    if chrono::Datelike::year(&time) == chrono::Datelike::year(&today) {
        time.format("%-d %b").to_string()
    } else {
        time.format("%-d %b %Y").to_string()
    }
}

/// "VP Engineering at a 500-person fintech (A)": who the person is, as far as known;
/// "(C, title not rated)" when the title matched no title rule.
pub fn fit_line(profile: &BTreeMap<String, String>, fit: &fit::Fit) -> Option<String> {
    let known = |name: &str| {
        profile
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let organisation = match (known("employees"), known("industry"), known("company")) {
        (Some(size), Some(industry), _) => Some(format!("a {size}-person {industry}")),
        (Some(size), None, Some(company)) => Some(format!("{company} ({size} people)")),
        (Some(size), None, None) => Some(format!("a {size}-person company")),
        (None, Some(industry), Some(company)) => Some(format!("{company} in {industry}")),
        (None, None, Some(company)) => Some(company.to_string()),
        (None, Some(industry), None) => Some(format!("a {industry} company")),
        (None, None, None) => None,
    };
    let who = match (known("title"), organisation) {
        (Some(title), Some(organisation)) => format!("{title} at {organisation}"),
        (Some(title), None) => title.to_string(),
        (None, Some(organisation)) => format!("works at {organisation}"),
        (None, None) => return None,
    };
    let grade = fit.grade.as_str();
    Some(if fit.title_unmatched {
        format!("{who} ({grade}, title not rated)")
    } else {
        format!("{who} ({grade})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MILLIS_PER_DAY;

    const DAY: Millis = MILLIS_PER_DAY as Millis;
    const NOW: Millis = 1_790_000_000_000;

    fn profile(fields: &[(&str, &str)]) -> BTreeMap<String, String> {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_fit_line_says_who_the_person_is() {
        let vp = profile(&[
            ("title", "VP Engineering"),
            ("employees", "500"),
            ("industry", "fintech"),
        ]);
        assert_eq!(
            fit_line(&vp, &graded(fit::Grade::A)).as_deref(),
            Some("VP Engineering at a 500-person fintech (A)")
        );
        let sized = profile(&[
            ("title", "CTO"),
            ("company", "Acme"),
            ("employees", "51-200"),
        ]);
        assert_eq!(
            fit_line(&sized, &graded(fit::Grade::A)).as_deref(),
            Some("CTO at Acme (51-200 people) (A)")
        );
        let lone = profile(&[("company", "Acme")]);
        assert_eq!(
            fit_line(&lone, &graded(fit::Grade::C)).as_deref(),
            Some("works at Acme (C)")
        );
        assert_eq!(fit_line(&profile(&[]), &graded(fit::Grade::C)), None);
        let intern = profile(&[("title", "Receptionist"), ("company", "Acme")]);
        let graded_intern = fit::fit(&intern, None, &ScoringConfig::default().fit);
        assert!(graded_intern.title_unmatched);
        assert_eq!(
            fit_line(&intern, &graded_intern).as_deref(),
            Some(
                format!(
                    "Receptionist at Acme ({}, title not rated)",
                    graded_intern.grade.as_str()
                )
                .as_str()
            )
        );
    }

    fn graded(grade: fit::Grade) -> fit::Fit {
        fit::Fit {
            points: 0.0,
            grade,
            reasons: Vec::new(),
            missing: Vec::new(),
            title_unmatched: false,
        }
    }

    #[test]
    fn a_demo_request_and_a_meeting_from_a_good_fit_make_sales_ready() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        for (kind, days) in [
            (TouchKind::DemoRequest, 3),
            (TouchKind::MeetingBooked, 2),
            (TouchKind::PricingView, 1),
            (TouchKind::WebinarAttended, 1),
        ] {
            attention.add(kind, NOW - days * DAY, &config);
        }
        let fields = profile(&[
            ("title", "VP Engineering"),
            ("company", "Acme"),
            ("employees", "500"),
            ("country", "US"),
            ("industry", "Software"),
        ]);
        let person = Person {
            attention: &attention,
            profile: &fields,
            email: Some("vp@acme.com"),
            stage: Some("engaged"),
            stage_changed_at: Some(NOW - 10 * DAY),
            account: Some("4 people from acme.com engaged this week"),
        };
        let verdict = qualify(&person, NOW, &config);
        // raw = 20·½^(3/14) + 20·½^(2/14) + 5·½^(1/14) + 12·½^(1/14) ≈ 51.5 → score 87.
        assert_eq!(verdict.score, 87);
        assert!(verdict.velocity > 0.0);
        assert_eq!(verdict.stage, "sales_ready", "{:?}", verdict.fit);
        assert!(verdict.change.as_deref().unwrap().contains("≥ 65"));
        assert_eq!(verdict.stage_changed_at, Some(NOW));
        let shown = visible(&person, &verdict, NOW, &config);
        assert_eq!(shown.matrix, format!("{}1", verdict.fit.grade.as_str()));
        assert!(shown.reasons[0].starts_with("VP Engineering at a 500-person"));
        assert_eq!(shown.reasons[1], "4 people from acme.com engaged this week");
        assert_eq!(shown.reasons[2], "meeting booked 2d ago");
        assert_eq!(shown.reasons.last().unwrap(), "sales ready since 21 Sep");
        let older = visible(&person, &verdict, NOW + 120 * DAY, &config);
        assert_eq!(
            older.reasons.last().unwrap(),
            "sales ready since 21 Sep 2026"
        );
    }

    #[test]
    fn an_unsubscribe_freezes_the_stage() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::Unsubscribe, NOW - DAY, &config);
        let fields = BTreeMap::new();
        let person = Person {
            attention: &attention,
            profile: &fields,
            email: None,
            stage: Some("mql"),
            stage_changed_at: Some(NOW - 30 * DAY),
            account: None,
        };
        let verdict = qualify(&person, NOW, &config);
        assert!(verdict.frozen);
        assert_eq!(verdict.stage, "mql");
        assert_eq!(verdict.change, None);
    }
}
