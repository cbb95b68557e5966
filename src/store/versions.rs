//! Learned scoring versions: each kept with its metrics and training window, and
//! which one is in force. The TOML `[scoring]` stays the operator's baseline; a
//! version only overrides the weights, the memory and the scale.

use super::keys::{read_u64, u64_key};
use super::{Store, StoreError};
use crate::model::{Millis, TouchKind};
use crate::scoring::ScoringConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const VERSION_PREFIX: &[u8] = b"scoring_version/";
const ACTIVE: &[u8] = b"active_scoring_version";

/// What a learned version sets in `[scoring]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedScoring {
    pub half_life_days: f64,
    /// Every kind's weight (points per counted touch).
    pub weights: BTreeMap<TouchKind, f64>,
    pub score_scale: f64,
    /// A short memory (acceleration): its half-life and the kinds weighed at it.
    /// Versions stored before it had one memory.
    #[serde(default)]
    pub short_half_life_days: Option<f64>,
    #[serde(default)]
    pub short_weights: BTreeMap<TouchKind, f64>,
}

impl LearnedScoring {
    /// Sets the weights and memories; a version of one memory takes away any short
    /// memory the configuration gave.
    pub fn apply_to(&self, config: &mut ScoringConfig) {
        config.half_life_days = self.half_life_days;
        config.score_scale = self.score_scale;
        config.weights = self.weights.clone();
        config.short_memory = crate::scoring::ShortMemory {
            half_life_days: self
                .short_half_life_days
                .unwrap_or(config.short_memory.half_life_days),
            weights: self.short_weights.clone(),
        };
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoringVersion {
    pub id: u64,
    pub created_at: Millis,
    pub learned: LearnedScoring,
    /// The suggestion it came from: metrics of the current and the learned scoring,
    /// the training window, the weights' intervals.
    pub report: serde_json::Value,
    #[serde(default)]
    pub applied_at: Option<Millis>,
    #[serde(default)]
    pub reverted_at: Option<Millis>,
}

fn version_key(id: u64) -> Vec<u8> {
    let mut key = VERSION_PREFIX.to_vec();
    key.extend_from_slice(&u64_key(id));
    key
}

impl Store {
    /// Every learned version, oldest first.
    pub fn scoring_versions(&self) -> Result<Vec<ScoringVersion>, StoreError> {
        let mut versions = Vec::new();
        for item in self.inner.meta.scan_prefix(VERSION_PREFIX) {
            let (key, bytes) = item?;
            versions.push(
                serde_json::from_slice(&bytes).map_err(|_| StoreError::Corrupt {
                    tree: "meta",
                    key: String::from_utf8_lossy(&key).into_owned(),
                })?,
            );
        }
        Ok(versions)
    }

    pub fn active_scoring_version(&self) -> Result<Option<ScoringVersion>, StoreError> {
        let Some(id) = self.inner.meta.get(ACTIVE)?.and_then(|v| read_u64(&v)) else {
            return Ok(None);
        };
        Ok(self.scoring_versions()?.into_iter().find(|v| v.id == id))
    }

    /// Stores a learned version and puts it in force.
    pub fn apply_scoring_version(
        &self,
        learned: LearnedScoring,
        report: serde_json::Value,
        now: Millis,
    ) -> Result<ScoringVersion, StoreError> {
        let id = self.scoring_versions()?.last().map_or(1, |v| v.id + 1);
        let version = ScoringVersion {
            id,
            created_at: now,
            learned,
            report,
            applied_at: Some(now),
            reverted_at: None,
        };
        self.inner
            .meta
            .insert(version_key(id), serde_json::to_vec(&version)?)?;
        self.inner.meta.insert(ACTIVE, &u64_key(id))?;
        self.flush()?;
        Ok(version)
    }

    /// Takes the version in force out of force; the one applied before it (not
    /// reverted itself) comes back, else the baseline. Returns what is now in force.
    pub fn revert_scoring_version(
        &self,
        now: Millis,
    ) -> Result<Option<ScoringVersion>, StoreError> {
        let Some(mut active) = self.active_scoring_version()? else {
            return Ok(None);
        };
        active.reverted_at = Some(now);
        self.inner
            .meta
            .insert(version_key(active.id), serde_json::to_vec(&active)?)?;
        let previous = self
            .scoring_versions()?
            .into_iter()
            .rfind(|v| v.id < active.id && v.applied_at.is_some() && v.reverted_at.is_none());
        match &previous {
            Some(version) => self.inner.meta.insert(ACTIVE, &u64_key(version.id))?,
            None => self.inner.meta.remove(ACTIVE)?,
        };
        self.flush()?;
        Ok(previous)
    }
}
