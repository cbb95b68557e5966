//! `attentiond explain <key>`: the whole calculation behind a contact's fields, in
//! words and numbers a CRM admin can check by hand.

use crate::clock::rfc3339;
use crate::model::{Millis, MILLIS_PER_DAY};
use crate::scoring::qualify::{self, Person};
use crate::scoring::{self, fit, Attention, ScoringConfig};
use crate::store::{Contact, Store, StoreError, StoredTouch};
use std::fmt::Write as _;

/// The explanation of one contact as of `now`, or `None` if unknown.
pub fn explain(
    store: &Store,
    contact: &Contact,
    now: Millis,
    config: &ScoringConfig,
) -> Result<String, StoreError> {
    let touches = store.touches_of(contact.id)?;
    let mut out = String::new();
    let emails: Vec<&str> = contact
        .identities
        .iter()
        .filter_map(|identity| match identity {
            crate::model::Identity::Email(address) => Some(address.as_str()),
            _ => None,
        })
        .collect();
    let _ = writeln!(
        out,
        "Contact {} ({}) as of {}",
        Contact::public_id(contact.id),
        if emails.is_empty() {
            "no email".to_string()
        } else {
            emails.join(", ")
        },
        rfc3339(now)
    );
    let short_memory = if config.short_memory.weights.is_empty() {
        String::new()
    } else {
        format!(", short memory {} days", config.short_memory.half_life_days)
    };
    let _ = writeln!(
        out,
        "Scoring version {} (half-life {} days{short_memory}, score scale {})",
        crate::scoring::version(config),
        config.half_life_days,
        config.score_scale
    );
    let attention = write_touches(&mut out, &touches, contact.email(), now, config);
    let raw = attention.raw_at(now, config);
    let score = scoring::score(raw, config);
    let _ = writeln!(out, "\nAttention");
    let _ = writeln!(
        out,
        "  raw {raw:.2} → score {score} = 100 × (1 − e^(−{raw:.2} / {}))",
        config.score_scale
    );
    let ln2 = std::f64::consts::LN_2;
    let fast = attention.fast_at(now, config) * ln2 / config.fast_half_life_days;
    let slow = attention.slow_at(now, config) * ln2 / config.slow_half_life_days;
    let _ = writeln!(
        out,
        "  trend {}: {fast:.2}/day over {} days vs {slow:.2}/day over {} days (rising above ×{}, fading below ×{})",
        scoring::trend(&attention, now, config).as_str(),
        config.fast_half_life_days,
        config.slow_half_life_days,
        config.rising_ratio,
        config.fading_ratio
    );
    let velocity = attention.velocity_at(now, config);
    // Rounding can leave −0.00 where nothing was.
    let week_ago = if (raw - velocity).abs() < 0.005 {
        0.0
    } else {
        raw - velocity
    };
    let _ = writeln!(
        out,
        "  velocity {velocity:+.2}: raw now {raw:.2} − raw 7 days ago {week_ago:.2}"
    );

    let profile = contact.profile_values();
    let verdict_fit = fit::fit(&profile, contact.email(), &config.fit);
    let _ = writeln!(
        out,
        "\nFit {} ({} points; A ≥ {}, B ≥ {}, C ≥ {})",
        verdict_fit.grade.as_str(),
        verdict_fit.points,
        config.fit.grade_thresholds[0],
        config.fit.grade_thresholds[1],
        config.fit.grade_thresholds[2]
    );
    for reason in &verdict_fit.reasons {
        let _ = writeln!(out, "  {reason}");
    }
    if !verdict_fit.missing.is_empty() {
        let _ = writeln!(
            out,
            "  missing (neutral until known): {}",
            verdict_fit.missing.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  matrix {}",
        fit::matrix(verdict_fit.grade, score, config.attention_bands)
    );

    let account_line = super::account::account_line(store, contact, now, config)?;
    let person = Person {
        attention: &attention,
        profile: &profile,
        email: contact.email(),
        stage: contact.stage.as_deref(),
        stage_changed_at: contact.stage_changed_at,
        account: account_line.as_deref(),
    };
    let verdict = qualify::qualify(&person, now, config);
    let _ = writeln!(out, "\nStage");
    match &contact.stage {
        Some(stage) => {
            let rung = config.stages.iter().find(|rung| &rung.name == stage);
            let _ = writeln!(
                out,
                "  {stage} since {}{}",
                contact.stage_changed_at.map(rfc3339).unwrap_or_default(),
                rung.map(|rung| format!(
                    " (entered at score ≥ {}, stays while score ≥ {}, fit {} or better)",
                    rung.enter_score, rung.stay_score, rung.min_fit
                ))
                .unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(out, "  not assessed yet");
        }
    }
    if let Some(change) = contact.stage_history.last() {
        let _ = writeln!(
            out,
            "  rule that fired: {} → {} at {}: {}",
            change.from.as_deref().unwrap_or("(none)"),
            change.to,
            rfc3339(change.at),
            change.reason
        );
    }
    if verdict.frozen {
        let _ = writeln!(
            out,
            "  frozen: do not contact (unsubscribe, spam complaint or do_not_contact)"
        );
    } else if Some(verdict.stage.as_str()) != contact.stage.as_deref() {
        let _ = writeln!(
            out,
            "  next assessment moves it to {}: {}",
            verdict.stage,
            verdict.change.as_deref().unwrap_or_default()
        );
    }
    let _ = writeln!(out, "\nReasons shown in the CRM");
    for reason in qualify::visible(&person, &verdict, now, config).reasons {
        let _ = writeln!(out, "  {reason}");
    }
    if let Some(account) = &contact.account_key {
        if let Some(view) = super::account::account_view(store, account, now, config)? {
            let _ = writeln!(
                out,
                "\nAccount {account}: score {} ({} engaged, roles covered: {})",
                view.score,
                view.people_engaged,
                if view.roles_covered.is_empty() {
                    "none".to_string()
                } else {
                    view.roles_covered.join(", ")
                }
            );
        }
    }
    Ok(out)
}

/// Replays the touch log as scoring counts it, one line per touch, and returns the
/// attention it adds up to.
fn write_touches(
    out: &mut String,
    touches: &[StoredTouch],
    email: Option<&str>,
    now: Millis,
    config: &ScoringConfig,
) -> Attention {
    let mut attention = Attention::default();
    // With a short memory a touch adds a part at each memory, each shown.
    let two = !config.short_memory.weights.is_empty();
    let _ = writeln!(
        out,
        "\nTouches, oldest first: {} = contribution now",
        if two {
            "weight counted × decay to now + short-memory weight × its decay"
        } else {
            "weight counted × decay to now"
        }
    );
    if touches.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for touch in touches {
        let base = config.worth(touch.kind);
        // The log is in time order, the order a replay counts in.
        let counted = scoring::count(
            &mut attention,
            touch.kind,
            touch.occurred_at,
            touch.properties.as_ref(),
            email,
            config,
        );
        let notes = counted.notes;
        let short = counted.short;
        let counted = counted.weight;
        let age_days = (now - touch.occurred_at).max(0) as f64 / MILLIS_PER_DAY;
        let decay = 0.5f64.powf(age_days / config.half_life_days);
        let short_decay = 0.5f64.powf(age_days / config.short_memory.half_life_days);
        let note = if !notes.is_empty() {
            format!("  (weight {base}: {})", notes.join("; "))
        } else if counted == 0.0 && base != 0.0 {
            "  (not counted)".to_string()
        } else if (counted - base).abs() > 1e-9 {
            format!("  (weight {base} × {:.2})", counted / base)
        } else {
            String::new()
        };
        let long = counted - short;
        let parts = if two {
            format!("{long:>6.2} × {decay:.3} + {short:>6.2} × {short_decay:.3}")
        } else {
            format!("{long:>6.2} × {decay:.3}")
        };
        let _ = writeln!(
            out,
            "  {}  {:<18} {:<12} {parts} = {:>6.2}{note}",
            rfc3339(touch.occurred_at),
            touch.kind.as_str(),
            touch.source,
            long * decay + short * short_decay
        );
    }
    attention
}
