//! Settings tables that say which touch kind a platform's own name means (a HubSpot
//! property, a Pipedrive activity type, a Segment event, a Salesforce task type …):
//! entries are added to the built-in defaults and override them, and `none` switches a
//! default off.

use crate::model::TouchKind;
use std::collections::BTreeMap;

/// The value of a table entry that switches a default off.
pub(super) const IGNORE: &str = "none";

/// The kind `name` means: the configured entry if there is one (no kind for `none`),
/// else the default. `same` compares names the way the platform does.
pub(super) fn kind_for(
    configured: &BTreeMap<String, String>,
    defaults: &[(&str, TouchKind)],
    name: &str,
    same: fn(&str, &str) -> bool,
) -> Option<TouchKind> {
    match configured.iter().find(|(entry, _)| same(entry, name)) {
        Some((_, kind)) if kind == IGNORE => None,
        Some((_, kind)) => TouchKind::parse(kind),
        None => defaults
            .iter()
            .find(|(entry, _)| same(entry, name))
            .map(|(_, kind)| *kind),
    }
}

/// Pure checks of the table at `key`: the offending entry and why.
pub(super) fn check(key: &str, table: &BTreeMap<String, String>) -> Result<(), (String, String)> {
    for (name, kind) in table {
        check_kind(format!("{key}.{name}"), kind)?;
    }
    Ok(())
}

/// Pure check of one setting that names a touch kind or `none`.
pub(super) fn check_kind(key: String, kind: &str) -> Result<(), (String, String)> {
    if kind != IGNORE && TouchKind::parse(kind).is_none() {
        return Err((
            key,
            format!(
                "unknown kind `{kind}`: expected `none` or one of {}",
                TouchKind::names()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_override_defaults_and_none_switches_one_off() {
        let defaults = [("Call", TouchKind::Call), ("Email", TouchKind::EmailReply)];
        let configured = BTreeMap::from([
            ("Email".to_string(), "none".to_string()),
            ("Demo".to_string(), "demo_request".to_string()),
        ]);
        let exact = |a: &str, b: &str| a == b;
        let kind = |name| kind_for(&configured, &defaults, name, exact);
        assert_eq!(kind("Call"), Some(TouchKind::Call));
        assert_eq!(kind("Email"), None);
        assert_eq!(kind("Demo"), Some(TouchKind::DemoRequest));
        assert_eq!(kind("call"), None);
        let any_case = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        assert_eq!(
            kind_for(&configured, &defaults, "call", any_case),
            Some(TouchKind::Call)
        );
    }

    #[test]
    fn a_bad_entry_is_named_with_its_table() {
        let table = BTreeMap::from([("Visit".to_string(), "booth".to_string())]);
        let (key, message) = check("statuses", &table).unwrap_err();
        assert_eq!(key, "statuses.Visit");
        assert!(
            message.contains("`booth`") && message.contains("`none`"),
            "{message}"
        );
        assert_eq!(check_kind("kind".into(), "none"), Ok(()));
    }
}
