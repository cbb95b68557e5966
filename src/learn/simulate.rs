//! A market with known truth, to check that learning finds it: accounts whose buying
//! groups go through hidden journeys before an opportunity (engagement accelerating
//! across several people), journeys that fizzle, prize-draw leads, heavy readers who
//! never buy, and quiet buyers. The market is written as the standard source's
//! payloads, one JSON line each, to be imported or posted to a webhook. Seeded: the
//! same seed gives the same market.
//!
//! The truth: what precedes an opportunity is a burst of pricing views, content
//! downloads, webinars and finally demo requests or meetings, in the last weeks.
//! Email opens and page views say little: heavy readers make most of them. Touches
//! name the campaign and asset they came through (a newsletter, a trade-show prize
//! draw, a buyer's guide, webinars, demo requests), as marketing platforms do.

use crate::model::{Millis, MILLIS_PER_DAY};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const DAY: f64 = MILLIS_PER_DAY;

#[derive(Debug, Clone)]
pub struct Market {
    pub accounts: usize,
    pub days: i64,
    pub seed: u64,
}

impl Default for Market {
    fn default() -> Self {
        Market {
            accounts: 300,
            days: 365,
            seed: 7,
        }
    }
}

/// The kinds that truly drive opportunities, strongest first.
pub const TRUE_DRIVERS: [&str; 4] = [
    "demo_request",
    "pricing_view",
    "content_download",
    "email_open",
];

const TITLES: [&str; 6] = [
    "VP Engineering",
    "Engineering Manager",
    "Senior Engineer",
    "Finance Controller",
    "Head of IT",
    "Data Analyst",
];

struct Writer {
    lines: Vec<Value>,
    next: usize,
}

/// The campaign and asset a simulated touch came through, as a marketing
/// platform would name them in the touch's properties.
fn labels(kind: &str) -> (Option<&'static str>, Option<&'static str>) {
    match kind {
        "email_open" | "email_click" => (Some("Monthly newsletter"), Some("Newsletter")),
        "form_submit" => (Some("Trade show prize draw"), Some("Prize draw form")),
        "content_download" => (Some("Buyer's guide"), Some("Buyer's guide (PDF)")),
        "pricing_view" => (None, Some("Pricing page")),
        "webinar_attended" => (
            Some("Product webinars"),
            Some("Webinar: a tour of the product"),
        ),
        "demo_request" => (Some("Demo requests"), Some("Demo request form")),
        _ => (None, None),
    }
}

impl Writer {
    fn touch(&mut self, email: &str, kind: &str, at: Millis) {
        self.next += 1;
        let mut data =
            json!({"email": email, "kind": kind, "occurred_at": crate::clock::rfc3339(at)});
        let mut properties = serde_json::Map::new();
        let (campaign, asset) = labels(kind);
        if let Some(campaign) = campaign {
            properties.insert("campaign".into(), campaign.into());
        }
        if let Some(asset) = asset {
            properties.insert("asset".into(), asset.into());
        }
        if !properties.is_empty() {
            data["properties"] = Value::Object(properties);
        }
        self.lines
            .push(json!({"id": format!("sim-t{}", self.next), "type": "touch", "data": data}));
    }
}

/// Touches of `kind` at a rate per day rising from `from` to `to` over the span.
fn burst(
    writer: &mut Writer,
    random: &mut StdRng,
    email: &str,
    kind: &str,
    (start, end): (f64, f64),
    (from, to): (f64, f64),
) {
    let mut day = start;
    while day < end {
        let share = (day - start) / (end - start).max(1.0);
        let rate = from + (to - from) * share;
        if random.gen_bool(rate.clamp(0.0, 1.0)) {
            let at = (day * DAY) as Millis + random.gen_range(0..(DAY as i64));
            writer.touch(email, kind, at);
        }
        day += 1.0;
    }
}

/// The market's lines, times from `now − days` to `now`.
pub fn generate(market: &Market, now: Millis) -> Vec<Value> {
    let mut random = StdRng::seed_from_u64(market.seed);
    let mut writer = Writer {
        lines: Vec::new(),
        next: 0,
    };
    let origin = (now as f64 / DAY).floor() - market.days as f64;
    let last = origin + market.days as f64 - 1.0;
    let mut opportunity = 0;
    for account in 0..market.accounts {
        let domain = format!("acct{account}.example");
        let size = random.gen_range(2..=6);
        let people: Vec<String> = (0..size).map(|p| format!("p{p}@{domain}")).collect();
        for (index, email) in people.iter().enumerate() {
            let title = TITLES[(account + index) % TITLES.len()];
            writer.lines.push(
                json!({"id": format!("sim-profile-{email}"), "type": "profile", "data": {
                "email": email, "fields": {"title": title, "employees": "51-200"},
                "occurred_at": crate::clock::rfc3339((origin * DAY) as Millis)}}),
            );
            // Everyone reads some newsletters; a heavy reader reads them all.
            let heavy = random.gen_bool(0.15);
            let (opens, views) = if heavy { (0.5, 0.4) } else { (0.04, 0.02) };
            burst(
                &mut writer,
                &mut random,
                email,
                "email_open",
                (origin, last),
                (opens, opens),
            );
            burst(
                &mut writer,
                &mut random,
                email,
                "page_view",
                (origin, last),
                (views, views),
            );
            if heavy {
                burst(
                    &mut writer,
                    &mut random,
                    email,
                    "email_click",
                    (origin, last),
                    (0.1, 0.1),
                );
            }
            // Prize-draw leads: one form, then silence.
            if random.gen_bool(0.1) {
                let at = ((origin + random.gen_range(0.0..market.days as f64)) * DAY) as Millis;
                writer.touch(email, "form_submit", at);
            }
        }
        // Journeys: most accounts go through one or two a year; some fizzle.
        let journeys = random.gen_range(0..=2);
        for _ in 0..journeys {
            let length = random.gen_range(21.0..42.0);
            let start = origin + random.gen_range(0.0..(market.days as f64 - length));
            let end = start + length;
            let fizzles = random.gen_bool(0.4);
            let group = random.gen_range(2..=size.min(4));
            let stop = if fizzles {
                start + length * random.gen_range(0.3..0.6)
            } else {
                end
            };
            for email in people.iter().take(group) {
                burst(
                    &mut writer,
                    &mut random,
                    email,
                    "content_download",
                    (start, stop),
                    (0.02, 0.25),
                );
                burst(
                    &mut writer,
                    &mut random,
                    email,
                    "pricing_view",
                    (start, stop),
                    (0.02, 0.35),
                );
                burst(
                    &mut writer,
                    &mut random,
                    email,
                    "webinar_attended",
                    (start, stop),
                    (0.0, 0.05),
                );
                if !fizzles {
                    burst(
                        &mut writer,
                        &mut random,
                        email,
                        "demo_request",
                        (end - 7.0, end),
                        (0.05, 0.3),
                    );
                }
            }
            if !fizzles && end < last {
                opportunity += 1;
                let created = ((end + random.gen_range(0.0..4.0)) * DAY) as Millis;
                let emails: Vec<&String> = people.iter().take(group).collect();
                writer.lines.push(json!({"id": format!("sim-o{opportunity}-created"), "type": "outcome", "data": {
                    "opportunity": format!("sim-{opportunity}"), "kind": "opportunity_created",
                    "occurred_at": crate::clock::rfc3339(created), "emails": emails,
                    "account": format!("domain:{domain}"), "amount": random.gen_range(5..80) * 1000, "currency": "EUR"}}));
                let closed = created + (random.gen_range(20.0..60.0) * DAY) as Millis;
                if closed < now {
                    let kind = if random.gen_bool(0.3) { "won" } else { "lost" };
                    writer.lines.push(json!({"id": format!("sim-o{opportunity}-closed"), "type": "outcome", "data": {
                        "opportunity": format!("sim-{opportunity}"), "kind": kind,
                        "occurred_at": crate::clock::rfc3339(closed), "account": format!("domain:{domain}")}}));
                }
            }
        }
        // Quiet buyers: an opportunity after next to no attention.
        if random.gen_bool(0.05) {
            opportunity += 1;
            let at = ((origin + random.gen_range(60.0..market.days as f64 - 1.0)) * DAY) as Millis;
            writer.touch(
                &people[0],
                "meeting_booked",
                at - 2 * MILLIS_PER_DAY as Millis,
            );
            writer.lines.push(
                json!({"id": format!("sim-o{opportunity}-created"), "type": "outcome", "data": {
                "opportunity": format!("sim-{opportunity}"), "kind": "opportunity_created",
                "occurred_at": crate::clock::rfc3339(at), "emails": [people[0]],
                "account": format!("domain:{domain}"), "amount": 10000, "currency": "EUR"}}),
            );
        }
    }
    writer.lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_market_with_every_kind_of_line() {
        let market = Market {
            accounts: 20,
            days: 120,
            seed: 3,
        };
        let now = 1_790_000_000_000;
        let lines = generate(&market, now);
        assert_eq!(lines, generate(&market, now));
        let types: std::collections::BTreeSet<&str> =
            lines.iter().filter_map(|l| l["type"].as_str()).collect();
        assert_eq!(
            types.into_iter().collect::<Vec<_>>(),
            ["outcome", "profile", "touch"]
        );
        // Every line reads as the standard source's import.
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        let numbered: Vec<(usize, &str)> = text
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l.as_str()))
            .collect();
        let events = crate::sources::standard::import(&numbered, now).unwrap();
        assert_eq!(events.events().len(), lines.len());
    }
}
