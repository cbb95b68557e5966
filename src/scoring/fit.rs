//! Fit: how close a person is to the ideal customer profile, from profile fields and
//! the email domain. Pure: the profile and the rules in, a grade and its reasons out.
//!
//! Each rule adds or removes points. Missing data is not bad fit: a rule whose field
//! is unknown contributes nothing, and the field is listed as missing so that forms
//! can ask for it (progressive profiling).

use serde::Deserialize;
use std::collections::BTreeMap;

/// Points from a pattern on a text field (title, department).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    /// Case-insensitive words, any of which must appear, e.g. `["vp", "vice president"]`.
    pub any: Vec<String>,
    pub points: f64,
}

/// Points for a company size band on `employees` (`"51-100"`, `"250"`, `"1000+"`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SizeBand {
    pub min: u64,
    #[serde(default)]
    pub max: Option<u64>,
    pub points: f64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Rules on `title`; every matching rule counts.
    #[serde(default = "default_title_rules")]
    pub titles: Vec<PatternRule>,
    /// Bands on `employees`; the first matching band counts.
    #[serde(default = "default_size_bands")]
    pub company_sizes: Vec<SizeBand>,
    /// `industry` (case-insensitive) → points.
    #[serde(default)]
    pub industries: BTreeMap<String, f64>,
    /// `country` (case-insensitive, name or code as your forms send it) → points.
    #[serde(default)]
    pub countries: BTreeMap<String, f64>,
    /// Email domains of free mail providers: a personal address says little about a
    /// buyer.
    #[serde(default = "default_free_mail_domains")]
    pub free_mail_domains: Vec<String>,
    #[serde(default = "default_free_mail_points")]
    pub free_mail_points: f64,
    /// Competitors' domains: they research, they do not buy.
    #[serde(default)]
    pub competitor_domains: Vec<String>,
    #[serde(default = "default_competitor_points")]
    pub competitor_points: f64,
    /// Fields a sales team needs before it calls ("minimum qualifying information").
    #[serde(default = "default_required_fields")]
    pub required_fields: Vec<String>,
    /// Lowest points for grades A, B and C; below C is D.
    #[serde(default = "default_grade_thresholds")]
    pub grade_thresholds: [f64; 3],
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            titles: default_title_rules(),
            company_sizes: default_size_bands(),
            industries: BTreeMap::new(),
            countries: BTreeMap::new(),
            free_mail_domains: default_free_mail_domains(),
            free_mail_points: default_free_mail_points(),
            competitor_domains: Vec::new(),
            competitor_points: default_competitor_points(),
            required_fields: default_required_fields(),
            grade_thresholds: default_grade_thresholds(),
        }
    }
}

fn rule(words: &[&str], points: f64) -> PatternRule {
    PatternRule {
        any: words.iter().map(|w| w.to_string()).collect(),
        points,
    }
}

fn default_title_rules() -> Vec<PatternRule> {
    vec![
        rule(
            &[
                "chief",
                "ceo",
                "cto",
                "cfo",
                "coo",
                "cmo",
                "cro",
                "founder",
                "owner",
                "president",
            ],
            30.0,
        ),
        rule(&["vp", "vice president", "head of", "director"], 25.0),
        rule(&["manager", "lead", "principal"], 12.0),
        rule(
            &[
                "engineer",
                "developer",
                "analyst",
                "architect",
                "specialist",
            ],
            5.0,
        ),
        rule(&["student", "intern", "trainee"], -20.0),
    ]
}

fn default_size_bands() -> Vec<SizeBand> {
    vec![
        SizeBand {
            min: 1,
            max: Some(10),
            points: -5.0,
        },
        SizeBand {
            min: 11,
            max: Some(50),
            points: 5.0,
        },
        SizeBand {
            min: 51,
            max: Some(1000),
            points: 20.0,
        },
        SizeBand {
            min: 1001,
            max: None,
            points: 15.0,
        },
    ]
}

fn default_free_mail_domains() -> Vec<String> {
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
    ]
    .iter()
    .map(|d| d.to_string())
    .collect()
}

fn default_free_mail_points() -> f64 {
    -15.0
}
fn default_competitor_points() -> f64 {
    -100.0
}
fn default_required_fields() -> Vec<String> {
    vec!["title".into(), "company".into()]
}
fn default_grade_thresholds() -> [f64; 3] {
    [40.0, 20.0, 0.0]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }
}

/// A fit assessment with its reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub points: f64,
    pub grade: Grade,
    /// What counted, e.g. `"title: VP Engineering (+25)"`.
    pub reasons: Vec<String>,
    /// Required fields not known yet.
    pub missing: Vec<String>,
    /// A title is known and no title rule matched it, so it counted nothing.
    pub title_unmatched: bool,
}

/// `"51-100"` → 51..=100, `"1000+"` → 1000.., `"250"` → 250.
fn employees(value: &str) -> Option<(u64, u64)> {
    let cleaned: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    if let Some(low) = cleaned.strip_suffix('+') {
        let low = low.parse().ok()?;
        return Some((low, u64::MAX));
    }
    match cleaned.split_once('-') {
        Some((low, high)) => Some((low.parse().ok()?, high.parse().ok()?)),
        None => cleaned.parse().ok().map(|n| (n, n)),
    }
}

pub fn contains_word(text: &str, word: &str) -> bool {
    let text = format!(
        " {} ",
        text.to_lowercase()
            .replace(|c: char| !c.is_alphanumeric(), " ")
    );
    let word = format!(" {} ", word.to_lowercase().trim());
    text.contains(&word)
}

fn signed(points: f64) -> String {
    if points >= 0.0 {
        format!("+{points}")
    } else {
        points.to_string()
    }
}

/// Grades a person from their profile fields and email address.
pub fn fit(profile: &BTreeMap<String, String>, email: Option<&str>, config: &FitConfig) -> Fit {
    let mut points = 0.0;
    let mut reasons = Vec::new();
    let mut add = |amount: f64, why: String| {
        points += amount;
        reasons.push(format!("{why} ({})", signed(amount)));
    };
    let mut title_unmatched = false;
    if let Some(title) = profile
        .get("title")
        .filter(|title| !title.trim().is_empty())
    {
        let mut matched = false;
        for rule in &config.titles {
            if rule.any.iter().any(|word| contains_word(title, word)) {
                add(rule.points, format!("title: {title}"));
                matched = true;
            }
        }
        title_unmatched = !matched;
    }
    if let Some((low, high)) = profile.get("employees").and_then(|e| employees(e)) {
        // A band matches when the reported range lies within it; a midpoint decides
        // for ranges that straddle two bands.
        let middle = low / 2 + high.min(low.saturating_mul(2)) / 2;
        if let Some(band) = config
            .company_sizes
            .iter()
            .find(|band| middle >= band.min && band.max.is_none_or(|max| middle <= max))
        {
            add(
                band.points,
                format!("company size: {}", profile["employees"]),
            );
        }
    }
    if let Some(industry) = profile.get("industry") {
        if let Some((_, amount)) = config
            .industries
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(industry))
        {
            add(*amount, format!("industry: {industry}"));
        }
    }
    if let Some(country) = profile.get("country") {
        if let Some((_, amount)) = config
            .countries
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(country))
        {
            add(*amount, format!("country: {country}"));
        }
    }
    if let Some(domain) = email
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
    {
        if config
            .competitor_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain))
        {
            add(
                config.competitor_points,
                format!("competitor domain {domain}"),
            );
        } else if config
            .free_mail_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain))
        {
            add(
                config.free_mail_points,
                format!("free mail address ({domain})"),
            );
        }
    }
    if title_unmatched {
        if let Some(title) = profile.get("title") {
            reasons.push(format!("title: {title} matches no title rule (+0)"));
        }
    }
    let missing: Vec<String> = config
        .required_fields
        .iter()
        .filter(|field| profile.get(*field).is_none_or(|v| v.trim().is_empty()))
        .cloned()
        .collect();
    let [a, b, c] = config.grade_thresholds;
    let grade = if points >= a {
        Grade::A
    } else if points >= b {
        Grade::B
    } else if points >= c {
        Grade::C
    } else {
        Grade::D
    };
    Fit {
        points,
        grade,
        reasons,
        title_unmatched,
        missing,
    }
}

/// The attention band of a score: 1 is the most attention. `thresholds` are the lowest
/// scores of bands 1, 2 and 3; below them is band 4.
pub fn attention_band(score: u8, thresholds: [u8; 3]) -> u8 {
    match score {
        s if s >= thresholds[0] => 1,
        s if s >= thresholds[1] => 2,
        s if s >= thresholds[2] => 3,
        _ => 4,
    }
}

/// `attention_matrix`: fit grade and attention band, `A1` (best fit, most attention)
/// to `D4`.
pub fn matrix(grade: Grade, score: u8, thresholds: [u8; 3]) -> String {
    format!("{}{}", grade.as_str(), attention_band(score, thresholds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(fields: &[(&str, &str)]) -> BTreeMap<String, String> {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_vp_at_a_mid_size_company_is_an_a() {
        let fit = fit(
            &profile(&[
                ("title", "VP Engineering"),
                ("company", "Acme"),
                ("employees", "51-100"),
            ]),
            Some("ann@acme.com"),
            &FitConfig::default(),
        );
        assert_eq!(fit.grade, Grade::A, "{fit:?}");
        assert_eq!(fit.points, 45.0);
        assert!(fit.missing.is_empty());
        assert_eq!(
            fit.reasons,
            vec!["title: VP Engineering (+25)", "company size: 51-100 (+20)"]
        );
    }

    #[test]
    fn missing_data_is_neutral_and_named() {
        let fit = fit(&BTreeMap::new(), Some("bo@acme.com"), &FitConfig::default());
        assert_eq!(fit.points, 0.0);
        assert_eq!(fit.grade, Grade::C);
        assert_eq!(fit.missing, vec!["title", "company"]);
    }

    #[test]
    fn free_mail_and_competitors_lower_fit() {
        let mut config = FitConfig::default();
        config.competitor_domains.push("rival.io".into());
        assert_eq!(
            fit(&BTreeMap::new(), Some("x@gmail.com"), &config).grade,
            Grade::D
        );
        let rival = fit(
            &profile(&[("title", "CEO")]),
            Some("boss@Rival.io"),
            &config,
        );
        assert_eq!(rival.grade, Grade::D);
        assert!(
            rival.reasons.iter().any(|r| r.contains("competitor")),
            "{rival:?}"
        );
    }

    #[test]
    fn titles_match_whole_words_only() {
        let config = FitConfig::default();
        // "cto" inside "director" or "lead" inside "leader-board" must not count twice.
        let fit = fit(&profile(&[("title", "Director of Sales")]), None, &config);
        assert_eq!(fit.points, 25.0, "{fit:?}");
        assert_eq!(
            super::fit(&profile(&[("title", "Student")]), None, &config).points,
            -20.0
        );
    }

    #[test]
    fn company_sizes_read_the_usual_forms() {
        assert_eq!(employees("51-100"), Some((51, 100)));
        assert_eq!(employees("1,000+"), Some((1000, u64::MAX)));
        assert_eq!(employees(" 250 "), Some((250, 250)));
        assert_eq!(employees("many"), None);
        let config = FitConfig::default();
        assert_eq!(
            fit(&profile(&[("employees", "5000+")]), None, &config).points,
            15.0
        );
        assert_eq!(
            fit(&profile(&[("employees", "3")]), None, &config).points,
            -5.0
        );
    }

    #[test]
    fn the_matrix_reads_grade_then_band() {
        let thresholds = [70, 40, 15];
        assert_eq!(matrix(Grade::A, 85, thresholds), "A1");
        assert_eq!(matrix(Grade::B, 40, thresholds), "B2");
        assert_eq!(matrix(Grade::D, 0, thresholds), "D4");
        assert_eq!(attention_band(14, thresholds), 4);
    }
}
