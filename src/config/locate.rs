//! Where a setting came from, so that an error points at it: the line of the file
//! that sets it, or the `ATTENTIOND__…` environment variable; and serde's words for
//! types put the way an operator would say them; which settings still hold the
//! example's secrets.

/// The environment variables that override settings start with this.
const ENV_PREFIX: &str = "ATTENTIOND__";

/// The key's segments: `sources.site.secret` → `["sources", "site", "secret"]`; a
/// list index (`viewer_tokens[0]`) belongs to its key.
fn segments(key: &str) -> Vec<String> {
    key.split('.')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            segment
                .split('[')
                .next()
                .unwrap_or(segment)
                .to_ascii_lowercase()
        })
        .collect()
}

/// Where the setting at `key` (dotted) came from: an environment variable wins over
/// the file, as it does when the two are merged. `None` when neither names it.
pub fn origin(key: &str, text: Option<&str>) -> Option<String> {
    let wanted = segments(key);
    if wanted.is_empty() {
        return None;
    }
    let variables: Vec<(String, Vec<String>)> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter_map(|name| {
            let rest = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
            let parts: Vec<String> = rest.split("__").map(str::to_string).collect();
            Some((name, parts))
        })
        .collect();
    let exact = |parts: &[String]| {
        parts == wanted.as_slice()
            || parts.split_last().is_some_and(|(last, rest)| {
                last.strip_suffix("_file")
                    .is_some_and(|base| wanted.split_last() == Some((&base.to_string(), rest)))
            })
    };
    if let Some((name, _)) = variables.iter().find(|(_, parts)| exact(parts)) {
        return Some(format!("environment variable {name}"));
    }
    if let Some(line) = text.and_then(|text| line_of(text, &wanted)) {
        return Some(format!("line {line}"));
    }
    // A table the file does not have, made by variables for its keys.
    variables
        .iter()
        .find(|(_, parts)| parts.starts_with(&wanted))
        .map(|(name, _)| format!("environment variable {name}"))
}

/// The dotted parts of a TOML key or table header, unquoted and lowercased.
fn toml_key(text: &str) -> Vec<String> {
    text.split('.')
        .map(|part| {
            part.trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_ascii_lowercase()
        })
        .collect()
}

/// The line (from 1) that sets `wanted` in a TOML text: the key's own line, else the
/// header of the table it names, else the nearest table or key above it.
fn line_of(text: &str, wanted: &[String]) -> Option<usize> {
    let mut table: Vec<String> = Vec::new();
    let mut best: Option<(usize, usize)> = None;
    let mut consider = |found: &[String], line: usize| {
        if found == wanted {
            return true;
        }
        if wanted.starts_with(found) && best.is_none_or(|(depth, _)| found.len() > depth) {
            best = Some((found.len(), line));
        }
        false
    };
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let Some((name, _)) = header.split_once(']') else {
                continue;
            };
            table = toml_key(name);
            if consider(&table, line_number) {
                return Some(line_number);
            }
            continue;
        }
        let Some((key, _)) = trimmed.split_once('=') else {
            continue;
        };
        let mut full = table.clone();
        full.extend(toml_key(key));
        if consider(&full, line_number) {
            return Some(line_number);
        }
    }
    best.map(|(_, line)| line)
}

/// serde's type words (`expected usize`, `expected struct ServerConfig`) said as an
/// operator would; and for a missing secret, its `_file` alternative.
pub fn plain_words(message: &str, secret_keys: &[&str]) -> String {
    const WHOLE: &[&str] = &[
        "usize", "u64", "u32", "u16", "u8", "isize", "i64", "i32", "i16", "i8",
    ];
    let mut said = message.to_string();
    for rust in WHOLE {
        said = replace_word(
            &said,
            &format!("expected {rust}"),
            "expected a whole number",
        );
    }
    for rust in ["f64", "f32"] {
        said = replace_word(&said, &format!("expected {rust}"), "expected a number");
    }
    said = said
        .replace("expected a sequence", "expected a list")
        .replace("expected a map", "expected a table");
    if let Some(at) = said.find("expected struct ") {
        let end = said[at + 16..]
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .map_or(said.len(), |end| at + 16 + end);
        said.replace_range(at..end, "expected a table");
    }
    if let Some(at) = said.find("expected internally tagged enum ") {
        let start = at + "expected internally tagged enum ".len();
        let end = said[start..]
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .map_or(said.len(), |end| start + end);
        said.replace_range(at..end, "expected a table with a `kind`");
    }
    if let Some(field) = said
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        if secret_keys.contains(&field) {
            said.push_str(&format!(
                " (or `{field}_file`, the path of a file that holds it)"
            ));
        }
    }
    said
}

/// Replaces `word` where it is not followed by more of a word (`u8` but not `u8x`).
fn replace_word(text: &str, word: &str, by: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let after = &rest[at + word.len()..];
        let whole = !after.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        out.push_str(&rest[..at]);
        out.push_str(if whole { by } else { word });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Secrets of the committed example: a configuration that still holds one is warned
/// about, since everybody who read the example knows it.
const EXAMPLE_SECRETS: &[&str] = &[
    "change-me-admin-token",
    "change-me-viewer-token",
    "replace-with-your-app-client-secret",
    "replace-with-your-private-app-token",
    "whsec_zxLq/ZKF7bUfdeadd9sCbpq2IMLI3P9wE4yEV2g/Wz8=",
];

/// The key an error is about. serde says `?` for a map key it could not read and
/// names an unknown field only in the message; both are put back in the path, so
/// that `scoring.weights.?` reads `scoring.weights.meetings_booked`.
pub fn full_key(path: &str, message: &str) -> String {
    let path = if path == "." { "" } else { path };
    let quoted = |after: &str| {
        message
            .split_once(after)
            .and_then(|(_, rest)| rest.split('`').next())
            .map(str::to_string)
    };
    if let Some(unknown) = quoted("unknown variant `") {
        if let Some(parent) = path.strip_suffix('?') {
            return format!("{parent}{unknown}");
        }
    }
    if let Some(field) = quoted("unknown field `") {
        return if path.is_empty() {
            field
        } else {
            format!("{path}.{field}")
        };
    }
    path.to_string()
}

/// Every key, anywhere in the tree, whose value is a secret of the committed example.
pub fn find_example_secrets(tree: &serde_json::Value, at: &str, found: &mut Vec<String>) {
    match tree {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                find_example_secrets(value, &format!("{at}{key}."), found);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                find_example_secrets(item, at, found);
            }
        }
        serde_json::Value::String(text) if EXAMPLE_SECRETS.contains(&text.as_str()) => {
            found.push(at.trim_end_matches('.').to_string());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# example\n[server]\nlisten = \"x\"\n\n[sinks.hubspot]\nkind = \"hubspot\"\nflush_intervall_ms = 5\n[scoring.weights]\n\"form_submit\" = 1\n";

    #[test]
    fn a_key_is_found_on_its_line_and_a_table_on_its_header() {
        let at = |key: &str| line_of(TEXT, &segments(key));
        assert_eq!(at("server.listen"), Some(3));
        assert_eq!(at("sinks.hubspot.flush_intervall_ms"), Some(7));
        assert_eq!(at("sinks.hubspot"), Some(5));
        assert_eq!(at("scoring.weights.form_submit"), Some(9));
        assert_eq!(at("scoring.weights.meetng"), Some(8), "nearest table above");
        assert_eq!(at("store.path"), None);
    }

    #[test]
    fn rust_type_names_become_words() {
        let secrets = ["secret"];
        assert_eq!(
            plain_words("invalid type: string \"x\", expected usize", &secrets),
            "invalid type: string \"x\", expected a whole number"
        );
        assert_eq!(
            plain_words(
                "invalid type: integer `1`, expected struct ServerConfig",
                &secrets
            ),
            "invalid type: integer `1`, expected a table"
        );
        assert_eq!(
            plain_words("missing field `secret`", &secrets),
            "missing field `secret` (or `secret_file`, the path of a file that holds it)"
        );
    }
}
