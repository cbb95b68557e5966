//! Settings: the TOML file, `ATTENTIOND__SECTION__KEY` overrides, `*_file` secrets, and
//! validation.
//!
//! Loading touches the world (files, environment); [`Config::validate`] does not, so it
//! runs the same in `check-config`, at start-up and in tests.

use crate::fields::{Recipient, Recipients};
use crate::report::ReportConfig;
use crate::scoring::ScoringConfig;
use crate::secret::Secret;
use crate::sinks::SinkConfig;
use crate::sources::SourceConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod locate;

pub const DEFAULT_CONFIG_PATH: &str = "config/attentiond.toml";

/// Keys whose value is a secret and which therefore also accept `<key>_file`.
const SECRET_KEYS: &[&str] = &[
    "admin_token",
    "client_secret",
    "secret",
    "access_token",
    "api_token",
    "refresh_token",
    "token",
    "password",
    "key",
    "webhook_key",
    "signing_key",
    "secret_token",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: no such file (name another with --config or ATTENTIOND_CONFIG)")]
    NotFound { path: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: config::ConfigError,
    },
    #[error("cannot read secret file {path} for `{key}`: {source}")]
    SecretFile {
        key: String,
        path: String,
        source: std::io::Error,
    },
    /// `at` says where the setting came from: `line 12` of the file, or the
    /// environment variable that set it.
    #[error("{}{path}: {message}", at.as_ref().map(|at| format!("{at}: ")).unwrap_or_default())]
    Invalid {
        path: String,
        message: String,
        at: Option<String>,
    },
}

impl ConfigError {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: path.into(),
            message: message.into(),
            at: None,
        }
    }

    /// Names where the offending setting came from, given the file's text.
    fn located(self, text: Option<&str>) -> ConfigError {
        match self {
            ConfigError::Invalid {
                path,
                message,
                at: None,
            } => {
                let at = locate::origin(&path, text);
                ConfigError::Invalid { path, message, at }
            }
            other => other,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub scoring: ScoringConfig,
    /// `[sources.<name>]`: each is served at `POST /webhooks/<name>`.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// `[sinks.<name>]`: where scores are written back.
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
    /// `[report]`: what `attentiond report` measures marketing against.
    #[serde(default)]
    pub report: ReportConfig,
    /// The web console's settings.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// Keys that still hold a secret of the committed example.
    #[serde(skip)]
    example_secrets: Vec<String>,
    /// How much the pipeline applies at once, and how often it tries a delivery.
    #[serde(default)]
    pub pipeline: crate::pipeline::PipelineConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Hours a console sign-in lasts; signing in again is needed after that.
    #[serde(default = "default_session_hours")]
    pub session_hours: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            session_hours: default_session_hours(),
        }
    }
}

fn default_session_hours() -> u32 {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The public base URL platforms call (`https://attention.example.com`). Signatures
    /// that cover the URL (HubSpot v2/v3) are checked against it instead of the URL
    /// seen behind a proxy.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Bearer token for `/api/v1`. Without it the admin API answers 401 to everyone.
    #[serde(default)]
    pub admin_token: Option<Secret>,
    /// Read-only tokens: they show the admin API's answers and the console, and
    /// change nothing.
    #[serde(default)]
    pub viewer_tokens: Vec<Secret>,
    /// Larger webhook bodies are refused with 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Log format: `text` for a terminal, `json` for a log collector.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// Acknowledged deliveries the pipeline may lag behind by: past this, webhooks
    /// are answered 503 with `Retry-After` (platforms retry) instead of being taken
    /// on faster than they can be applied.
    #[serde(default = "default_max_inbox_backlog")]
    pub max_inbox_backlog: u64,
    /// Seconds a webhook body may take to arrive; a slower one is answered 408 and
    /// its connection closed.
    #[serde(default = "default_body_timeout_secs")]
    pub body_timeout_secs: u64,
    /// Most memory (bytes) the bodies of requests whose sender is not yet verified may
    /// hold together; past it, such requests are answered 503 with `Retry-After`.
    #[serde(default = "default_max_unverified_bytes")]
    pub max_unverified_bytes: usize,
    /// Niceness (0 to 19) of the threads that answer HTTP, above the daemon's own.
    /// When the CPU is short, the pipeline then runs before new deliveries are taken,
    /// so ingest slows to the pace they are applied instead of the backlog growing.
    /// `0` gives both the same share.
    #[serde(default = "default_worker_nice")]
    pub worker_nice: u8,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            public_url: None,
            admin_token: None,
            viewer_tokens: Vec::new(),
            max_body_bytes: default_max_body_bytes(),
            log_format: default_log_format(),
            max_inbox_backlog: default_max_inbox_backlog(),
            body_timeout_secs: default_body_timeout_secs(),
            max_unverified_bytes: default_max_unverified_bytes(),
            worker_nice: default_worker_nice(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_log_format() -> String {
    "text".into()
}
fn default_max_inbox_backlog() -> u64 {
    100_000
}
fn default_body_timeout_secs() -> u64 {
    10
}
fn default_max_unverified_bytes() -> usize {
    64 * 1024 * 1024
}
fn default_worker_nice() -> u8 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory of the sled database. Created if missing.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Applied webhook deliveries (with their raw bodies) are kept this many days for
    /// audit, then pruned; fractions allowed.
    #[serde(default = "default_inbox_retention_days")]
    pub inbox_retention_days: f64,
    /// Touches that occurred longer ago than this many days leave the touch log;
    /// fractions allowed, 0 keeps every touch. Their part in attention has long
    /// decayed by then; what they counted stays counted.
    #[serde(default = "default_touch_retention_days")]
    pub touch_retention_days: f64,
    /// Days an event's id is remembered to refuse a redelivery of it; fractions
    /// allowed. Longer than the longest retry window of every platform sending
    /// webhooks (docs/operations.md), or a late retry would count twice.
    #[serde(default = "default_dedupe_retention_days")]
    pub dedupe_retention_days: f64,
    /// sled's cache (MiB), counted at the size the cached pages take on disk; the
    /// memory they take is several times that (docs/operations.md, Memory).
    #[serde(default = "default_cache_mb")]
    pub cache_mb: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_store_path(),
            inbox_retention_days: default_inbox_retention_days(),
            touch_retention_days: default_touch_retention_days(),
            dedupe_retention_days: default_dedupe_retention_days(),
            cache_mb: default_cache_mb(),
        }
    }
}

fn default_cache_mb() -> u64 {
    crate::store::DEFAULT_CACHE_MB
}

fn default_store_path() -> PathBuf {
    PathBuf::from("./data")
}
fn default_inbox_retention_days() -> f64 {
    7.0
}
fn default_touch_retention_days() -> f64 {
    730.0
}
fn default_dedupe_retention_days() -> f64 {
    30.0
}

/// A relative `store` path taken from the config file's folder, without the `./`
/// steps that would otherwise show in every message naming it (`config/./data`).
fn beside(config_file: &Path, store: &Path) -> PathBuf {
    if store.is_absolute() {
        return store.to_path_buf();
    }
    let folder = config_file.parent().unwrap_or(Path::new(""));
    let joined: PathBuf = folder
        .components()
        .chain(store.components())
        .filter(|part| !matches!(part, std::path::Component::CurDir))
        .collect();
    if joined.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        joined
    }
}

impl Config {
    /// Reads the file, then the environment, then `*_file` secrets. An error names
    /// the line or the environment variable the offending setting came from. A
    /// relative `store.path` is taken from the file's folder, wherever the daemon
    /// was started.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::NotFound {
                path: path.display().to_string(),
            });
        }
        let text = std::fs::read_to_string(path).ok();
        let mut config =
            Config::load_merged(path).map_err(|error| error.located(text.as_deref()))?;
        config.store.path = beside(path, &config.store.path);
        Ok(config)
    }

    fn load_merged(path: &Path) -> Result<Config, ConfigError> {
        let built = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("ATTENTIOND")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
        let mut tree: serde_json::Value =
            built
                .try_deserialize()
                .map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
        resolve_secret_files(&mut tree, "")?;
        Config::from_value(tree)
    }

    /// Parses an already-merged settings tree; errors name the key path.
    pub fn from_value(tree: serde_json::Value) -> Result<Config, ConfigError> {
        let mut example_secrets = Vec::new();
        locate::find_example_secrets(&tree, "", &mut example_secrets);
        let mut config: Config = serde_path_to_error::deserialize(tree).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            ConfigError::invalid(
                locate::full_key(&path, &message),
                locate::plain_words(&message, SECRET_KEYS),
            )
        })?;
        config.validate()?;
        config.example_secrets = example_secrets;
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let built = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .map_err(|source| ConfigError::Read {
                path: "<inline>".into(),
                source,
            })?;
        let mut tree: serde_json::Value =
            built
                .try_deserialize()
                .map_err(|source| ConfigError::Read {
                    path: "<inline>".into(),
                    source,
                })?;
        resolve_secret_files(&mut tree, "")?;
        Config::from_value(tree)
    }

    /// Pure checks of what types alone cannot say.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::invalid(
                "server.listen",
                format!("`{}` is not an address:port", self.server.listen),
            ));
        }
        if let Some(url) = &self.server.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::invalid(
                    "server.public_url",
                    "must start with https:// or http://",
                ));
            }
        }
        if self.server.max_body_bytes == 0 {
            return Err(ConfigError::invalid(
                "server.max_body_bytes",
                "must be greater than 0",
            ));
        }
        if self.server.max_inbox_backlog == 0 {
            return Err(ConfigError::invalid(
                "server.max_inbox_backlog",
                "must be greater than 0",
            ));
        }
        if self.server.worker_nice > 19 {
            return Err(ConfigError::invalid(
                "server.worker_nice",
                "must be 0 to 19, as nice(1) counts",
            ));
        }
        if self.server.body_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "server.body_timeout_secs",
                "must be greater than 0",
            ));
        }
        if self.server.max_unverified_bytes < self.server.max_body_bytes {
            return Err(ConfigError::invalid(
                "server.max_unverified_bytes",
                "must be at least server.max_body_bytes, or no body of the largest size could be read",
            ));
        }
        let store = &self.store;
        for (key, days, zero_allowed, problem) in [
            (
                "store.dedupe_retention_days",
                store.dedupe_retention_days,
                false,
                "must be more than 0 and at most 36500 days",
            ),
            (
                "store.inbox_retention_days",
                store.inbox_retention_days,
                true,
                "must be between 0 and 36500 days",
            ),
            (
                "store.touch_retention_days",
                store.touch_retention_days,
                true,
                "must be between 0 (keep every touch) and 36500 days",
            ),
        ] {
            let in_range = (0.0..=36_500.0).contains(&days) && (zero_allowed || days > 0.0);
            if !in_range {
                return Err(ConfigError::invalid(key, problem));
            }
        }
        if let Some((key, problem)) = self.pipeline.problems().into_iter().next() {
            return Err(ConfigError::invalid(key, problem));
        }
        if !matches!(self.server.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::invalid(
                "server.log_format",
                "expected one of `text`, `json`",
            ));
        }
        for (at, token) in self.server.viewer_tokens.iter().enumerate() {
            if token.expose().trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("server.viewer_tokens[{at}]"),
                    "must not be empty",
                ));
            }
            if self.server.admin_token.as_ref() == Some(token) {
                return Err(ConfigError::invalid(
                    format!("server.viewer_tokens[{at}]"),
                    "must differ from server.admin_token",
                ));
            }
        }
        if !(1..=720).contains(&self.console.session_hours) {
            return Err(ConfigError::invalid(
                "console.session_hours",
                "must be between 1 and 720",
            ));
        }
        self.scoring
            .validate()
            .map_err(|(key, message)| ConfigError::invalid(format!("scoring.{key}"), message))?;
        self.report
            .validate(&self.scoring)
            .map_err(|(key, message)| ConfigError::invalid(format!("report.{key}"), message))?;
        for (name, source) in &self.sources {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ConfigError::invalid(
                    format!("sources.{name}"),
                    "a source name is part of its URL: use letters, digits, `-` and `_`",
                ));
            }
            source.validate().map_err(|(key, message)| {
                ConfigError::invalid(format!("sources.{name}.{key}"), message)
            })?;
        }
        for (name, sink) in &self.sinks {
            sink.validate().map_err(|(key, message)| {
                ConfigError::invalid(format!("sinks.{name}.{key}"), message)
            })?;
        }
        Ok(())
    }

    /// The sinks as the pipeline sees them: which records each can address.
    pub fn recipients(&self) -> Recipients {
        self.sinks
            .iter()
            .map(|(name, sink)| (name.clone(), Arc::new(sink.clone()) as Arc<dyn Recipient>))
            .collect()
    }

    /// Problems that do not stop the daemon but that an operator should hear about.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.server.admin_token.is_none() {
            warnings.push("server.admin_token is not set: /api/v1 refuses every request".into());
        }
        if self.sources.is_empty() {
            warnings.push("no [sources.<name>] configured: no webhook is accepted".into());
        }
        for key in &self.example_secrets {
            warnings.push(format!(
                "{key} is still the example configuration's secret, which anyone can read: set your own"
            ));
        }
        warnings
    }
}

/// Replaces every `<secret>_file = "/path"` with `<secret> = "<file contents>"`. A
/// secret set both ways is refused: which one is meant cannot be guessed.
fn resolve_secret_files(tree: &mut serde_json::Value, at: &str) -> Result<(), ConfigError> {
    let serde_json::Value::Object(map) = tree else {
        return Ok(());
    };
    let file_keys: Vec<String> = map
        .keys()
        .filter(|key| {
            key.strip_suffix("_file")
                .is_some_and(|base| SECRET_KEYS.contains(&base))
        })
        .cloned()
        .collect();
    for file_key in file_keys {
        let base = file_key.trim_end_matches("_file").to_string();
        let full_key = format!("{at}{base}");
        if map.contains_key(&base) {
            return Err(ConfigError::invalid(
                full_key,
                format!("is set both inline and as `{file_key}`: keep one of the two"),
            ));
        }
        let Some(serde_json::Value::String(path)) = map.remove(&file_key) else {
            return Err(ConfigError::invalid(
                format!("{at}{file_key}"),
                "must be a path",
            ));
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
            key: full_key,
            path: path.clone(),
            source,
        })?;
        map.insert(
            base,
            serde_json::Value::String(text.trim_end_matches(['\r', '\n']).to_string()),
        );
    }
    for (key, value) in map.iter_mut() {
        resolve_secret_files(value, &format!("{at}{key}."))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_store_path_is_named_from_the_config_files_folder_without_dot_steps() {
        let at = |file: &str, store: &str| beside(Path::new(file), Path::new(store));
        assert_eq!(
            at("config/attentiond.toml", "./data"),
            Path::new("config/data")
        );
        assert_eq!(at("attentiond.toml", "./data"), Path::new("data"));
        assert_eq!(at("./attentiond.toml", "."), Path::new("."));
        assert_eq!(
            at("/etc/attentiond/attentiond.toml", "state/./db"),
            Path::new("/etc/attentiond/state/db")
        );
        assert_eq!(
            at("/etc/a.toml", "../srv/data"),
            Path::new("/etc/../srv/data")
        );
        assert_eq!(at("config/a.toml", "/var/lib/x"), Path::new("/var/lib/x"));
    }

    #[test]
    fn the_committed_example_config_is_valid() {
        let config = Config::load(Path::new(DEFAULT_CONFIG_PATH)).expect("example config");
        assert!(config.sources.contains_key("hubspot"));
        assert!(config.sources.contains_key("site"));
        assert!(config.sinks.contains_key("hubspot"));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_path() {
        let error =
            Config::from_toml("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("server"), "{text}");
        assert!(text.contains("lisen"), "{text}");
        assert!(text.contains("listen"), "lists valid keys: {text}");
    }

    #[test]
    fn the_workers_yield_by_ten_unless_told_and_never_past_nineteen() {
        assert_eq!(Config::from_toml("").unwrap().server.worker_nice, 10);
        let equal = Config::from_toml("[server]\nworker_nice = 0\n").unwrap();
        assert_eq!(equal.server.worker_nice, 0);
        let text = Config::from_toml("[server]\nworker_nice = 20\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("server.worker_nice"), "{text}");
        assert!(text.contains("0 to 19"), "{text}");
    }

    #[test]
    fn the_report_counts_a_stage_of_the_ladder_as_qualified() {
        let config = Config::from_toml("[report]\nqualified_per_month_target = 25\n").unwrap();
        assert_eq!(config.report.qualified_per_month_target, Some(25.0));
        assert_eq!(config.report.qualified_stage, "mql");
        let error = Config::from_toml("[report]\nqualified_stage = \"sql\"\n").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("report.qualified_stage"), "{text}");
        assert!(text.contains("new, engaged, mql, sales_ready"), "{text}");
    }

    #[test]
    fn an_unknown_kind_lists_the_valid_ones() {
        let error = Config::from_toml("[sources.x]\nkind = \"hubspott\"\n").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("sources.x"), "{text}");
        assert!(
            text.contains("hubspot") && text.contains("standard"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_key_inside_a_source_is_named() {
        let error =
            Config::from_toml("[sources.site]\nkind = \"standard\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nsecrett = 1\n")
                .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("sources.site"), "{text}");
        assert!(text.contains("secrett"), "{text}");
    }

    #[test]
    fn table_keys_keep_their_case_and_dots() {
        let config = Config::from_toml(
            "[sources.app]\nkind = \"mapped\"\n[sources.app.auth]\nscheme = \"bearer\"\nsecret = \"s\"\n[sources.app.fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind_field = \"/action\"\noccurred_at = \"/at\"\n[sources.app.kinds]\n\"trial.started\" = \"trial_signup\"\n\"Demo Requested\" = \"demo_request\"\n",
        )
        .unwrap();
        let Some(crate::sources::SourceConfig::Mapped(mapped)) = config.sources.get("app") else {
            panic!("not mapped")
        };
        let keys: Vec<&str> = mapped.kinds.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["Demo Requested", "trial.started"]);
    }

    #[test]
    fn a_secret_can_come_from_a_file_and_never_prints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret-token\n").unwrap();
        let config = Config::from_toml(&format!(
            "[server]\nadmin_token_file = \"{}\"\n",
            path.display()
        ))
        .unwrap();
        let token = config.server.admin_token.clone().unwrap();
        assert_eq!(token.expose(), "s3cret-token");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn a_secret_set_inline_and_from_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file").unwrap();
        let both = Config::from_toml(&format!(
            "[server]\nadmin_token = \"inline\"\nadmin_token_file = \"{}\"\n",
            path.display()
        ))
        .unwrap_err()
        .to_string();
        assert!(
            both.contains("server.admin_token") && both.contains("admin_token_file"),
            "{both}"
        );
        let missing =
            Config::from_toml("[server]\nadmin_token_file = \"/nonexistent/x\"\n").unwrap_err();
        assert!(
            missing.to_string().contains("server.admin_token"),
            "{missing}"
        );
    }
}
