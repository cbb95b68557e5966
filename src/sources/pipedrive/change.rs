//! One Pipedrive webhook, v1 or v2, read into v2's terms: which entity, which action,
//! the delivery id, the time, and the record before and after.

use crate::model::Millis;
use crate::sources::delivery::SourceError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Action {
    Create,
    Change,
    Delete,
}

/// One webhook, v1 or v2, in v2's terms.
pub(super) struct Change {
    pub(super) action: Action,
    pub(super) entity: String,
    /// The delivery id: `meta.id` (v2), or built from v1's meta.
    pub(super) event_id: String,
    /// `meta.timestamp` in epoch milliseconds.
    at: Option<Millis>,
    pub(super) data: Map<String, Value>,
    previous: Map<String, Value>,
    /// v2 `meta.merged_from_id` (a merge's surviving record, on its change event).
    pub(super) merged_from: Option<String>,
}

impl Change {
    pub(super) fn read(body: &Map<String, Value>) -> Result<Change, SourceError> {
        let meta = match body.get("meta") {
            Some(Value::Object(meta)) => meta,
            _ => return Err(SourceError::malformed("meta is required (an object)")),
        };
        let v1 = meta.contains_key("object") || body.contains_key("current");
        let (entity_key, data_key) = if v1 {
            ("object", "current")
        } else {
            ("entity", "data")
        };
        let entity = id_text(meta.get(entity_key))
            .ok_or_else(|| SourceError::malformed(format!("meta.{entity_key} is required")))?;
        let action_name = id_text(meta.get("action"))
            .ok_or_else(|| SourceError::malformed("meta.action is required"))?;
        let action = match action_name.as_str() {
            "create" | "added" => Action::Create,
            "change" | "updated" | "merged" => Action::Change,
            "delete" | "deleted" => Action::Delete,
            other => {
                return Err(SourceError::malformed(format!(
                    "meta.action `{other}` is not create, change or delete"
                )))
            }
        };
        let at = meta.get("timestamp").and_then(time_value);
        let event_id = if v1 {
            let object_id = id_text(meta.get("id"))
                .ok_or_else(|| SourceError::malformed("meta.id is required"))?;
            let stamp = id_text(meta.get("timestamp_micro"))
                .or_else(|| id_text(meta.get("timestamp")))
                .ok_or_else(|| SourceError::malformed("meta.timestamp is required"))?;
            format!("v1:{entity}:{object_id}:{action_name}:{stamp}")
        } else {
            id_text(meta.get("id")).ok_or_else(|| SourceError::malformed("meta.id is required"))?
        };
        let object = |key: &str| -> Result<Map<String, Value>, SourceError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(map)) => Ok(map.clone()),
                Some(_) => Err(SourceError::malformed(format!(
                    "{key} must be an object or null"
                ))),
            }
        };
        let data = object(data_key)?;
        if action != Action::Delete
            && data.is_empty()
            && matches!(entity.as_str(), "person" | "activity" | "deal")
        {
            return Err(SourceError::malformed(format!(
                "{data_key} is required for {entity} {action_name}"
            )));
        }
        Ok(Change {
            action,
            entity,
            event_id,
            at,
            data,
            previous: object("previous")?,
            merged_from: id_text(meta.get("merged_from_id")),
        })
    }

    /// The entity's id: `data.id`.
    pub(super) fn id(&self) -> Result<String, SourceError> {
        id_text(self.data.get("id"))
            .ok_or_else(|| SourceError::malformed(format!("{} id is required", self.entity)))
    }

    /// A field whose value changed: `previous` names it with another value.
    pub(super) fn changed(&self, field: &str) -> bool {
        match self.previous.get(field) {
            Some(before) => Some(before) != self.data.get(field),
            None => false,
        }
    }

    /// The first readable time among `fields` of `data`, else the event time.
    pub(super) fn time(&self, fields: &[&str]) -> Result<Millis, SourceError> {
        fields
            .iter()
            .find_map(|field| self.data.get(*field).and_then(time_value))
            .or(self.at)
            .ok_or_else(|| {
                SourceError::malformed("meta.timestamp is required (no time in the payload)")
            })
    }

    pub(super) fn account(&self) -> Option<String> {
        id_text(self.data.get("org_id")).map(|id| format!("pipedrive-org:{id}"))
    }
}

/// A string field.
pub(super) fn string(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An id: a number, a non-empty string, or v1's `{"value": id, …}` / `{"id": id}`.
pub(super) fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Object(map) => id_text(map.get("value")).or_else(|| id_text(map.get("id"))),
        _ => None,
    }
}

/// `[{value, primary}]` (or a bare string) as (value, primary) pairs, empty ones dropped.
pub(super) fn entries(value: Option<&Value>) -> Vec<(String, bool)> {
    let one = |v: &Value| -> Option<(String, bool)> {
        match v {
            Value::String(s) => Some((s.trim().to_string(), false)),
            Value::Object(map) => Some((
                string(map.get("value"))?.trim().to_string(),
                map.get("primary") == Some(&Value::Bool(true)),
            )),
            _ => None,
        }
    };
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(one),
        Some(other) => {
            return one(other)
                .into_iter()
                .filter(|(v, _)| !v.is_empty())
                .collect()
        }
        None => return Vec::new(),
    }
    .filter(|(v, _)| !v.is_empty())
    .collect()
}

/// RFC 3339, Pipedrive's `YYYY-MM-DD HH:MM:SS` (UTC), or epoch seconds / milliseconds.
fn time_value(value: &Value) -> Option<Millis> {
    let epoch = |n: i64| {
        if n.abs() < 100_000_000_000 {
            n * 1000
        } else {
            n
        }
    };
    match value {
        Value::Number(n) => n.as_i64().map(epoch),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(time) = chrono::DateTime::parse_from_rfc3339(s) {
                return Some(time.timestamp_millis());
            }
            if let Ok(time) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
                return Some(time.and_utc().timestamp_millis());
            }
            s.parse::<i64>().ok().map(epoch)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn times_are_read_in_every_pipedrive_form() {
        assert_eq!(
            time_value(&Value::from("2022-11-24T15:28:13.375Z")),
            Some(ms("2022-11-24T15:28:13.375Z"))
        );
        assert_eq!(
            time_value(&Value::from("2025-02-17 21:15:41")),
            Some(ms("2025-02-17T21:15:41Z"))
        );
        assert_eq!(
            time_value(&Value::from(1669304389)),
            Some(1_669_304_389_000)
        );
        assert_eq!(
            time_value(&Value::from("1669304389")),
            Some(1_669_304_389_000)
        );
        assert_eq!(
            time_value(&Value::from(1739826941605_i64)),
            Some(1_739_826_941_605)
        );
        assert_eq!(time_value(&Value::from("soon")), None);
    }
}
