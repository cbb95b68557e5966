//! Scoring: how touches become the attention a rep sees. Pure: no I/O, no clock; the
//! time is always an argument.
//!
//! The model in one paragraph: every touch adds its kind's weight to a sum that halves
//! every `half_life_days` (raw attention). The 0–100 score is a saturating curve of raw
//! attention. The trend compares attention per day over a fast and a slow half-life.
//! `docs/scoring.md` has the formulas and worked examples.

pub mod account;
pub mod attendance;
mod attention;
mod counters;
pub mod fit;
mod memory;
pub mod noise;
pub mod qualify;
mod reasons;
mod replay;
pub mod stage;

pub use attention::{decay, Attention, KindStats, Parts, Slot};
pub use memory::ShortMemory;
pub use noise::{count, weigh, Counted, NoiseConfig, Weighing};
pub use reasons::reasons;
pub use replay::{needs_replay, replay, LoggedTouch};

use crate::model::{Millis, TouchKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// Days after which a touch counts half as much.
    #[serde(default = "default_half_life_days")]
    pub half_life_days: f64,
    /// Half-life (days) of the short memory the trend compares.
    #[serde(default = "default_fast_half_life_days")]
    pub fast_half_life_days: f64,
    /// Half-life (days) of the long memory the trend compares.
    #[serde(default = "default_slow_half_life_days")]
    pub slow_half_life_days: f64,
    /// Raw attention at which the score reaches 63 (= 100 × (1 − 1/e)).
    #[serde(default = "default_score_scale")]
    pub score_scale: f64,
    /// `rising` when recent attention per day exceeds long-run attention per day by
    /// this factor.
    #[serde(default = "default_rising_ratio")]
    pub rising_ratio: f64,
    /// `fading` when recent attention per day is below this fraction of the long run.
    #[serde(default = "default_fading_ratio")]
    pub fading_ratio: f64,
    /// Weight of one touch of each kind; unlisted kinds keep their default.
    #[serde(default)]
    pub weights: BTreeMap<TouchKind, f64>,
    /// Most touches of a kind counted per contact per UTC day; more are logged with
    /// weight 0. Unlisted kinds keep their default; 0 means no cap.
    #[serde(default)]
    pub daily_caps: BTreeMap<TouchKind, u32>,
    /// Minutes of a webinar that count as attending it fully: a participant who
    /// stayed this long gets the full `webinar_attended` weight, less time less.
    #[serde(default = "default_webinar_full_minutes")]
    pub webinar_full_minutes: f64,
    /// Ideal customer profile rules: see `docs/scoring.md#fit`.
    #[serde(default)]
    pub fit: fit::FitConfig,
    /// Lowest scores of attention bands 1, 2 and 3 (band 4 is below), for
    /// `attention_matrix`.
    #[serde(default = "default_attention_bands")]
    pub attention_bands: [u8; 3],
    /// How often (seconds) contacts are re-checked so that attention fading through
    /// decay alone reaches the CRM.
    #[serde(default = "default_refresh_interval_secs")]
    pub refresh_interval_secs: u64,
    /// The qualification ladder, lowest stage first: see `docs/scoring.md#stages`.
    #[serde(default = "stage::default_ladder")]
    pub stages: Vec<stage::StageRule>,
    /// Buying groups and the account score: see `docs/scoring.md#accounts`.
    #[serde(default)]
    pub accounts: account::AccountConfig,
    /// Rules that discount touches machines make: see `docs/scoring.md#noise-rules`.
    #[serde(default)]
    pub noise: NoiseConfig,
    /// A second, shorter memory per kind: see `docs/scoring.md#two-memories`.
    /// Empty by default: one memory, `half_life_days`.
    #[serde(default)]
    pub short_memory: ShortMemory,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            half_life_days: default_half_life_days(),
            fast_half_life_days: default_fast_half_life_days(),
            slow_half_life_days: default_slow_half_life_days(),
            score_scale: default_score_scale(),
            rising_ratio: default_rising_ratio(),
            fading_ratio: default_fading_ratio(),
            weights: BTreeMap::new(),
            daily_caps: BTreeMap::new(),
            webinar_full_minutes: default_webinar_full_minutes(),
            fit: fit::FitConfig::default(),
            attention_bands: default_attention_bands(),
            refresh_interval_secs: default_refresh_interval_secs(),
            stages: stage::default_ladder(),
            accounts: account::AccountConfig::default(),
            noise: NoiseConfig::default(),
            short_memory: ShortMemory::default(),
        }
    }
}

fn default_half_life_days() -> f64 {
    14.0
}
fn default_fast_half_life_days() -> f64 {
    3.0
}
fn default_slow_half_life_days() -> f64 {
    30.0
}
fn default_score_scale() -> f64 {
    25.0
}
fn default_rising_ratio() -> f64 {
    1.3
}
fn default_fading_ratio() -> f64 {
    0.7
}
fn default_attention_bands() -> [u8; 3] {
    [70, 40, 15]
}
fn default_webinar_full_minutes() -> f64 {
    60.0
}
fn default_refresh_interval_secs() -> u64 {
    300
}

/// Default weight of one touch: what it says about buying intent, roughly "how many
/// email opens is this worth". Negative kinds are signals to back off.
pub fn default_weight(kind: TouchKind) -> f64 {
    use TouchKind::*;
    match kind {
        EmailOpen => 1.0,
        EmailClick => 3.0,
        EmailReply => 8.0,
        FormSubmit => 10.0,
        SiteVisit => 2.0,
        PageView => 1.0,
        PricingView => 5.0,
        ContentDownload => 6.0,
        WebinarRegistered => 6.0,
        WebinarAttended => 12.0,
        MeetingBooked => 20.0,
        MeetingAttended => 25.0,
        Call => 8.0,
        Chat => 6.0,
        TrialSignup => 15.0,
        DemoRequest => 20.0,
        MeetingCanceled => -10.0,
        MeetingNoShow => -12.0,
        Unsubscribe => -15.0,
        HardBounce => -5.0,
        SpamComplaint => -25.0,
    }
}

/// Default daily cap: kinds that machines or habits repeat cheaply are capped.
pub fn default_daily_cap(kind: TouchKind) -> Option<u32> {
    use TouchKind::*;
    match kind {
        EmailOpen => Some(2),
        EmailClick => Some(3),
        PageView => Some(10),
        SiteVisit => Some(3),
        PricingView => Some(3),
        ContentDownload => Some(3),
        Chat => Some(3),
        Call => Some(5),
        _ => None,
    }
}

impl ScoringConfig {
    /// Points per touch of `kind` at the long memory, `half_life_days`.
    pub fn weight(&self, kind: TouchKind) -> f64 {
        self.weights
            .get(&kind)
            .copied()
            .unwrap_or_else(|| default_weight(kind))
    }

    /// Points per touch of `kind` at the short memory (0 unless configured).
    pub fn short_weight(&self, kind: TouchKind) -> f64 {
        self.short_memory.weight(kind)
    }

    /// What a fresh touch of `kind` counts: both memories. Its sign says whether
    /// the kind is a reward or a penalty.
    pub fn worth(&self, kind: TouchKind) -> f64 {
        self.weight(kind) + self.short_weight(kind)
    }

    pub fn daily_cap(&self, kind: TouchKind) -> Option<u32> {
        match self.daily_caps.get(&kind) {
            Some(0) => None,
            Some(cap) => Some(*cap),
            None => default_daily_cap(kind),
        }
    }

    /// Returns the offending key and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (key, value) in [
            ("half_life_days", self.half_life_days),
            ("fast_half_life_days", self.fast_half_life_days),
            ("slow_half_life_days", self.slow_half_life_days),
            ("score_scale", self.score_scale),
            ("webinar_full_minutes", self.webinar_full_minutes),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err((key.into(), "must be a number greater than 0".into()));
            }
        }
        if self.fast_half_life_days >= self.slow_half_life_days {
            return Err((
                "fast_half_life_days".into(),
                "must be shorter than slow_half_life_days".into(),
            ));
        }
        if self.rising_ratio.is_nan() || self.rising_ratio <= 1.0 {
            return Err(("rising_ratio".into(), "must be greater than 1".into()));
        }
        if !(self.fading_ratio > 0.0 && self.fading_ratio < 1.0) {
            return Err(("fading_ratio".into(), "must be between 0 and 1".into()));
        }
        for (kind, weight) in &self.weights {
            if !weight.is_finite() {
                return Err((format!("weights.{kind}"), "must be a finite number".into()));
            }
        }
        let [first, second, third] = self.attention_bands;
        if !(first > second && second > third) {
            return Err((
                "attention_bands".into(),
                "must be three scores from high to low, e.g. [70, 40, 15]".into(),
            ));
        }
        let [a, b, c] = self.fit.grade_thresholds;
        if !(a > b && b > c) {
            return Err((
                "fit.grade_thresholds".into(),
                "must be three points from high to low, e.g. [40, 20, 0]".into(),
            ));
        }
        if self.refresh_interval_secs == 0 {
            return Err(("refresh_interval_secs".into(), "must be at least 1".into()));
        }
        self.short_memory
            .validate(self.half_life_days, |kind| self.weight(kind))
            .map_err(|(key, why)| (format!("short_memory.{key}"), why))?;
        stage::validate(&self.stages).map_err(|(index, why)| (format!("stages[{index}]"), why))?;
        self.accounts.validate()?;
        self.noise
            .validate()
            .map_err(|(key, why)| (format!("noise.{key}"), why))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    #[default]
    Steady,
    Fading,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Rising => "rising",
            Trend::Steady => "steady",
            Trend::Fading => "fading",
        }
    }
}

/// The fields a rep sees. A contact is pushed to the CRM only when these change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Visible {
    pub score: u8,
    pub trend: Trend,
    pub reasons: Vec<String>,
    pub last_touch_at: Option<Millis>,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub stage_changed_at: Option<Millis>,
    #[serde(default)]
    pub fit_grade: String,
    #[serde(default)]
    pub matrix: String,
    /// `attention_velocity` rounded to whole raw points, so that decay alone does not
    /// cause a push every few minutes.
    #[serde(default)]
    pub velocity: i64,
}

/// How much of its kind's weight a touch earns. Sources report facts (minutes in a
/// webinar); the weighting of those facts is decided here. A touch reporting
/// `minutes` counts in proportion to `webinar_full_minutes`, capped at the full weight;
/// a bare join, or a leave whose join is unknown, counts a quarter
/// ([`attendance::factor`]).
pub fn touch_factor(
    kind: TouchKind,
    properties: Option<&serde_json::Value>,
    config: &ScoringConfig,
) -> f64 {
    if kind != TouchKind::WebinarAttended {
        return 1.0;
    }
    attendance::factor(properties, config)
}

/// Bumped when the account score's formula or its stored sums change.
const ACCOUNT_FORMULA: &str = "accounts: breadth of square roots, incremental, per memory; ";

/// The scoring version: a short hash of everything in `[scoring]` that changes a
/// score (the refresh interval does not). A store scored under another version is
/// rescored.
pub fn version(config: &ScoringConfig) -> String {
    use sha2::{Digest, Sha256};
    let mut relevant = config.clone();
    relevant.refresh_interval_secs = 0;
    relevant.accounts.member_line_interval_secs = 0;
    // The formulas count too: a store scored by an earlier account formula is
    // rescored by this one.
    let digest = Sha256::digest(format!("{ACCOUNT_FORMULA}{relevant:?}").as_bytes());
    hex::encode(&digest[..6])
}

/// Maps raw attention (unbounded) onto 0–100: `100 × (1 − e^(−raw / scale))`, rounded.
/// Monotone, 0 for no (or net negative) attention, and never quite 100.
pub fn score(raw: f64, config: &ScoringConfig) -> u8 {
    if raw <= 0.0 || !raw.is_finite() {
        return 0;
    }
    let value = 100.0 * (1.0 - (-raw / config.score_scale).exp());
    value.round().clamp(0.0, 99.0) as u8
}

/// Compares attention per day in the short and the long memory. A constant rate of
/// touches reads the same per day in both (`acc × ln2 / half_life`), so their ratio is
/// ~1 for steady attention, high for a fresh burst and near 0 for old touches.
pub fn trend(attention: &Attention, now: Millis, config: &ScoringConfig) -> Trend {
    trend_of(
        attention.fast_at(now, config),
        attention.slow_at(now, config),
        config,
    )
}

/// The trend of decayed sums in the short and the long memory (one person's, or an
/// account's members' added up).
pub fn trend_of(fast: f64, slow: f64, config: &ScoringConfig) -> Trend {
    const QUIET: f64 = 1e-4;
    let ln2 = std::f64::consts::LN_2;
    let fast = fast * ln2 / config.fast_half_life_days;
    let slow = slow * ln2 / config.slow_half_life_days;
    if fast.abs() < QUIET && slow.abs() < QUIET {
        return Trend::Steady;
    }
    if fast > slow * config.rising_ratio {
        Trend::Rising
    } else if fast < slow * config.fading_ratio {
        Trend::Fading
    } else {
        Trend::Steady
    }
}

/// Attention fields alone, at `now` (qualification fields empty): see
/// [`qualify::visible`] for everything a rep sees.
pub fn visible(attention: &Attention, now: Millis, config: &ScoringConfig) -> Visible {
    Visible {
        score: score(attention.raw_at(now, config), config),
        trend: trend(attention, now, config),
        reasons: reasons(attention, now, config),
        last_touch_at: attention.last_touch_at(),
        stage: String::new(),
        stage_changed_at: None,
        fit_grade: String::new(),
        matrix: String::new(),
        velocity: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MILLIS_PER_DAY;

    const DAY: Millis = MILLIS_PER_DAY as Millis;
    const NOW: Millis = 1_790_000_000_000;

    #[test]
    fn score_is_monotone_and_bounded() {
        let config = ScoringConfig::default();
        let mut last = 0;
        for step in 0..2000 {
            let value = score(step as f64 * 0.25, &config);
            assert!(value >= last);
            assert!(value <= 99);
            last = value;
        }
        assert_eq!(score(0.0, &config), 0);
        assert_eq!(score(-10.0, &config), 0);
        assert_eq!(score(25.0, &config), 63);
    }

    #[test]
    fn a_burst_today_on_a_new_contact_is_rising() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::FormSubmit, NOW - 3_600_000, &config);
        attention.add(TouchKind::EmailClick, NOW - 1_800_000, &config);
        assert_eq!(trend(&attention, NOW, &config), Trend::Rising);
    }

    #[test]
    fn touches_ninety_days_old_are_fading() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::EmailOpen, NOW - 90 * DAY, &config);
        attention.add(TouchKind::EmailClick, NOW - 91 * DAY, &config);
        assert_eq!(trend(&attention, NOW, &config), Trend::Fading);
    }

    #[test]
    fn a_daily_habit_is_steady() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        for day in 0..120 {
            attention.add(TouchKind::PageView, NOW - day * DAY, &config);
        }
        assert_eq!(trend(&attention, NOW, &config), Trend::Steady);
    }

    #[test]
    fn webinar_minutes_scale_the_weight_up_to_the_full_length() {
        let config = ScoringConfig::default();
        let kind = TouchKind::WebinarAttended;
        let factor = |p: serde_json::Value| touch_factor(kind, Some(&p), &config);
        assert_eq!(factor(serde_json::json!({"minutes": 30})), 0.5);
        assert_eq!(factor(serde_json::json!({"minutes": 240})), 1.0);
        assert_eq!(factor(serde_json::json!({"joined": true})), 0.25);
        assert_eq!(touch_factor(kind, None, &config), 1.0);
        assert_eq!(
            touch_factor(
                TouchKind::FormSubmit,
                Some(&serde_json::json!({"minutes": 1})),
                &config
            ),
            1.0
        );
    }

    #[test]
    fn no_touches_is_steady_and_zero() {
        let config = ScoringConfig::default();
        let attention = Attention::default();
        let seen = visible(&attention, NOW, &config);
        assert_eq!(seen.score, 0);
        assert_eq!(seen.trend, Trend::Steady);
        assert!(seen.reasons.is_empty());
    }

    #[test]
    fn unknown_weight_keys_are_refused_with_the_valid_kinds() {
        let error = toml_to_scoring("[weights]\nemail_opens = 2.0\n").unwrap_err();
        assert!(error.contains("email_open"), "{error}");
    }

    #[test]
    fn noise_settings_read_from_toml_and_refuse_unknown_keys() {
        let config = toml_to_scoring(
            r#"
[noise]
machine_open_factor = 0.1
min_seconds_after_send = 30
internal_domains = ["acme.com"]
test_domains = ["example.com", "test"]

[noise.weekly_caps]
email_click = 4

[noise.repeat_factors]
site_visit = 0.5

[[noise.machine_networks]]
cidr = "17.0.0.0/8"
name = "Apple network"
"#,
        )
        .unwrap();
        assert_eq!(config.noise.machine_open_factor, 0.1);
        assert_eq!(config.noise.weekly_cap(TouchKind::EmailClick), Some(4));
        assert_eq!(config.noise.weekly_cap(TouchKind::EmailOpen), Some(6));
        assert_eq!(config.noise.repeat_factor(TouchKind::SiteVisit), 0.5);
        assert_eq!(config.noise.repeat_factor(TouchKind::EmailOpen), 0.5);
        assert_eq!(config.noise.machine_networks[0].cidr, "17.0.0.0/8");
        // Lists not given keep their defaults.
        assert_eq!(config.noise.machine_user_agents[0].pattern, "Mozilla/5.0");
        assert_eq!(config.validate(), Ok(()));
        let error = toml_to_scoring("[noise]\nmachine_open_factr = 0.0\n").unwrap_err();
        assert!(error.contains("machine_open_factr"), "{error}");
        let mut bad = config.clone();
        bad.noise.burst_factor = 2.0;
        assert_eq!(bad.validate().unwrap_err().0, "noise.burst_factor");
    }

    fn toml_to_scoring(text: &str) -> Result<ScoringConfig, String> {
        let value: serde_json::Value = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| e.to_string())?;
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
}
