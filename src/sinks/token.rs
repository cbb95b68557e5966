//! Access tokens kept between requests (Marketo, Pipedrive OAuth, Salesforce): a token
//! is used until a margin before its expiry, or, when the CRM did not say how long it
//! lives, until the CRM refuses it; one sign-in at a time however many requests wait.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// A token with less life than this is renewed before a request rather than risk a
/// refusal.
pub const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// A token as the cache needs to know it: the string the CRM checks.
pub trait AccessToken: Clone {
    fn access(&self) -> &str;
}

impl AccessToken for String {
    fn access(&self) -> &str {
        self
    }
}

/// A token as the CRM issued it.
pub struct Issued<T> {
    pub token: T,
    /// How long the CRM says it lives; `None` when it does not say.
    pub lifetime: Option<Duration>,
}

struct Held<T> {
    token: T,
    expires_at: Option<Instant>,
    /// The issuer handed back the token we held: it answers so until the token expires,
    /// so asking again before then is pointless.
    reissued: bool,
    /// The CRM refused it and renewing failed: not to be sent again.
    refused: bool,
}

impl<T> Held<T> {
    fn usable(&self, now: Instant) -> bool {
        !self.refused
            && self.expires_at.is_none_or(|expires_at| {
                now < expires_at && (self.reissued || now + RENEW_MARGIN < expires_at)
            })
    }
}

/// The token a sink holds, shared by its concurrent requests.
pub struct TokenCache<T> {
    /// Held while a token is issued, so concurrent requests wait for one sign-in.
    held: tokio::sync::Mutex<Option<Held<T>>>,
}

impl<T> Default for TokenCache<T> {
    fn default() -> Self {
        TokenCache {
            held: tokio::sync::Mutex::new(None),
        }
    }
}

impl<T> fmt::Debug for TokenCache<T> {
    // The token is a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCache { .. }")
    }
}

impl<T: AccessToken> TokenCache<T> {
    /// The held token while it has life left, else a new one from `issue`, which is
    /// given the token held before (its refresh token, say).
    pub async fn get<E, F, Fut>(&self, issue: F) -> Result<T, E>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<Issued<T>, E>>,
    {
        let mut held = self.held.lock().await;
        if let Some(current) = held.as_ref().filter(|held| held.usable(Instant::now())) {
            return Ok(current.token.clone());
        }
        replace(&mut held, issue).await
    }

    /// After the CRM refused `refused`: a new token, unless a concurrent request has
    /// already got one.
    pub async fn renew<E, F, Fut>(&self, refused: &str, issue: F) -> Result<T, E>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<Issued<T>, E>>,
    {
        let mut held = self.held.lock().await;
        if let Some(current) = held.as_mut() {
            if current.token.access() != refused && !current.refused {
                return Ok(current.token.clone());
            }
            current.refused = true;
        }
        replace(&mut held, issue).await
    }
}

async fn replace<T, E, F, Fut>(held: &mut Option<Held<T>>, issue: F) -> Result<T, E>
where
    T: AccessToken,
    F: FnOnce(Option<T>) -> Fut,
    Fut: Future<Output = Result<Issued<T>, E>>,
{
    let now = Instant::now();
    let previous = held.as_ref().map(|held| held.token.clone());
    let reissue_of = previous.as_ref().map(|token| token.access().to_string());
    let issued = issue(previous).await?;
    *held = Some(Held {
        reissued: reissue_of.as_deref() == Some(issued.token.access()),
        token: issued.token.clone(),
        expires_at: issued.lifetime.map(|lifetime| now + lifetime),
        refused: false,
    });
    Ok(issued.token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(token: &str, secs: Option<u64>) -> Issued<String> {
        Issued {
            token: token.into(),
            lifetime: secs.map(Duration::from_secs),
        }
    }

    #[test]
    fn a_token_is_renewed_a_minute_before_it_expires_unless_identity_handed_it_back() {
        let now = Instant::now();
        let token = |secs, reissued| Held {
            token: "t".to_string(),
            expires_at: Some(now + Duration::from_secs(secs)),
            reissued,
            refused: false,
        };
        assert!(token(3599, false).usable(now));
        assert!(!token(30, false).usable(now));
        assert!(token(30, true).usable(now));
        assert!(!token(0, true).usable(now));
    }

    #[tokio::test]
    async fn a_token_without_a_lifetime_is_kept_until_refused() {
        let cache = TokenCache::default();
        let first = cache
            .get(|_| async { Ok::<_, ()>(issued("a", None)) })
            .await;
        assert_eq!(first, Ok("a".to_string()));
        let again = cache
            .get(|_| async { Ok::<_, ()>(issued("b", None)) })
            .await;
        assert_eq!(again, Ok("a".to_string()));
        let renewed = cache
            .renew("a", |previous| async move {
                assert_eq!(previous.as_deref(), Some("a"));
                Ok::<_, ()>(issued("b", None))
            })
            .await;
        assert_eq!(renewed, Ok("b".to_string()));
        // A request that saw "a" refused after "b" came is given "b".
        let late = cache
            .renew("a", |_| async { Ok::<_, ()>(issued("c", None)) })
            .await;
        assert_eq!(late, Ok("b".to_string()));
    }

    #[tokio::test]
    async fn a_refused_token_is_not_sent_again_when_renewing_fails() {
        let cache = TokenCache::default();
        let _ = cache
            .get(|_| async { Ok::<_, ()>(issued("a", None)) })
            .await;
        let failed = cache
            .renew("a", |_| async { Err::<Issued<String>, _>(()) })
            .await;
        assert_eq!(failed, Err(()));
        let next = cache
            .get(|previous| async move {
                assert_eq!(
                    previous.as_deref(),
                    Some("a"),
                    "the old token is still known"
                );
                Ok::<_, ()>(issued("b", None))
            })
            .await;
        assert_eq!(next, Ok("b".to_string()));
    }
}
