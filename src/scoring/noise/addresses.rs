//! Internal and test addresses: touches from our own colleagues and from test or
//! placeholder addresses are no buyer's attention, so they count nothing.

use super::NoiseConfig;

pub(super) fn normalize_domain(domain: &str) -> String {
    domain
        .trim()
        .trim_start_matches('@')
        .trim_matches('.')
        .to_ascii_lowercase()
}

/// The domain itself or any subdomain: `example.com` covers `mail.example.com`,
/// and `test` covers every `*.test` address.
fn domain_in(domain: &str, list: &[String]) -> Option<String> {
    list.iter()
        .map(|entry| normalize_domain(entry))
        .find(|entry| {
            domain == entry
                || domain
                    .strip_suffix(entry.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
}

pub(super) fn excluded(email: Option<&str>, noise: &NoiseConfig) -> Option<String> {
    let (_, domain) = email?.rsplit_once('@')?;
    let domain = normalize_domain(domain);
    if let Some(entry) = domain_in(&domain, &noise.internal_domains) {
        return Some(format!("internal address ({entry})"));
    }
    domain_in(&domain, &noise.test_domains).map(|entry| format!("test address ({entry})"))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::MONDAY;
    use crate::model::TouchKind;
    use crate::scoring::{weigh, Attention, ScoringConfig};

    #[test]
    fn internal_and_test_addresses_count_nothing() {
        let mut config = ScoringConfig::default();
        config.noise.internal_domains = vec!["acme.com".into()];
        config.noise.test_domains = vec!["example.com".into(), "test".into()];
        let weigh_for = |kind, email: &str| {
            let attention = Attention::default();
            weigh(kind, MONDAY, None, Some(email), &attention, &config)
        };
        let own = weigh_for(TouchKind::FormSubmit, "ann@acme.com");
        assert_eq!(own.factor, 0.0);
        assert_eq!(own.notes, vec!["internal address (acme.com)"]);
        assert_eq!(
            weigh_for(TouchKind::FormSubmit, "ann@Mail.ACME.com").factor,
            0.0
        );
        assert_eq!(
            weigh_for(TouchKind::FormSubmit, "ann@notacme.com").factor,
            1.0
        );
        let qa = weigh_for(TouchKind::DemoRequest, "qa+42@staging.test");
        assert_eq!(qa.notes, vec!["test address (test)"]);
        assert_eq!(qa.factor, 0.0);
        // Excluded means excluded: a colleague's unsubscribe is no signal either.
        assert_eq!(
            weigh_for(TouchKind::Unsubscribe, "ann@acme.com").factor,
            0.0
        );
        assert_eq!(
            weigh_for(TouchKind::FormSubmit, "ann@example.com").factor,
            0.0
        );
    }

    #[test]
    fn the_default_lists_exclude_no_address() {
        let config = ScoringConfig::default();
        let attention = Attention::default();
        for email in ["ann@example.com", "qa@staging.test", "me@localhost"] {
            let weighing = weigh(
                TouchKind::FormSubmit,
                MONDAY,
                None,
                Some(email),
                &attention,
                &config,
            );
            assert_eq!(weighing.factor, 1.0, "{email}");
        }
    }
}
