//! Console sign-in: a token (the admin token or a viewer token) buys a session
//! cookie; every change carries the session's CSRF token.
//!
//! Session ids are 32 random bytes from the operating system, kept only as their
//! SHA-256, and end after `console.session_hours` or at sign-out. The cookie is
//! HttpOnly and SameSite=Strict, and Secure whenever the console is reached over
//! https (the public URL says so, or the request or its proxy does).

use crate::config::Config;
use crate::model::Millis;
use crate::secret::constant_time_eq;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

pub const COOKIE: &str = "attentiond_session";

/// What a token or a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, changes included.
    Admin,
    /// Looks; changes nothing.
    Viewer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// The role a token gives, compared in constant time with every configured token.
pub fn role_of_token(config: &Config, token: &str) -> Option<Role> {
    let token = token.trim().as_bytes();
    if token.is_empty() {
        return None;
    }
    let mut role = None;
    for viewer in &config.server.viewer_tokens {
        if constant_time_eq(token, viewer.expose().as_bytes()) {
            role = Some(Role::Viewer);
        }
    }
    if let Some(admin) = &config.server.admin_token {
        if constant_time_eq(token, admin.expose().as_bytes()) {
            role = Some(Role::Admin);
        }
    }
    role
}

#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    /// Goes with every form that changes something.
    pub csrf: String,
    pub expires_at: Millis,
}

pub struct Sessions {
    lifetime: Millis,
    held: Mutex<HashMap<[u8; 32], Session>>,
}

fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    pub fn new(hours: u32) -> Sessions {
        Sessions {
            lifetime: i64::from(hours) * 3_600_000,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, work: impl FnOnce(&mut HashMap<[u8; 32], Session>) -> T) -> T {
        let mut held = match self.held.lock() {
            Ok(held) => held,
            Err(poisoned) => poisoned.into_inner(),
        };
        work(&mut held)
    }

    /// A new session: its id (for the cookie) and what it holds.
    pub fn open(&self, role: Role, now: Millis) -> (String, Session) {
        let id = random_text();
        let session = Session {
            role,
            csrf: random_text(),
            expires_at: now + self.lifetime,
        };
        self.with(|held| {
            held.retain(|_, kept| kept.expires_at > now);
            held.insert(digest(&id), session.clone());
        });
        (id, session)
    }

    pub fn find(&self, id: &str, now: Millis) -> Option<Session> {
        let key = digest(id);
        self.with(|held| match held.get(&key) {
            Some(session) if session.expires_at > now => Some(session.clone()),
            Some(_) => {
                held.remove(&key);
                None
            }
            None => None,
        })
    }

    pub fn close(&self, id: &str) {
        let key = digest(id);
        self.with(|held| held.remove(&key));
    }

    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime / 1000
    }
}

/// Whether the browser reached us over https.
pub fn over_https(config: &Config, request: &HttpRequest) -> bool {
    config
        .server
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
        || request.connection_info().scheme() == "https"
}

pub fn session_cookie(id: &str, secure: bool, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, id.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

pub fn cleared_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie("", secure, 0);
    cookie.make_removal();
    cookie
}

/// A form post comes from our own pages: not marked cross-site by the browser,
/// and from our own origin when it names one.
pub fn same_origin(config: &Config, request: &HttpRequest) -> bool {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    if let Some(site) = header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = header("origin") else {
        return true;
    };
    let info = request.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    let public = config
        .server
        .public_url
        .as_deref()
        .map(|url| url.trim_end_matches('/'));
    origin == own || Some(origin) == public
}

/// The CSRF token a form sent matches the session's.
pub fn csrf_matches(session: &Session, sent: &str) -> bool {
    constant_time_eq(session.csrf.as_bytes(), sent.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_and_end_when_their_time_is_up() {
        let sessions = Sessions::new(1);
        let (first, held) = sessions.open(Role::Viewer, 1_000);
        let (second, _) = sessions.open(Role::Admin, 1_000);
        assert_ne!(first, second);
        assert_ne!(held.csrf, first);
        assert_eq!(first.len(), 43, "32 bytes, base64");
        assert_eq!(
            sessions.find(&first, 1_000 + 3_599_999).map(|s| s.role),
            Some(Role::Viewer)
        );
        assert!(
            sessions.find(&first, 1_000 + 3_600_000).is_none(),
            "an hour later"
        );
        assert!(sessions.find("made-up", 1_000).is_none());
        sessions.close(&second);
        assert!(sessions.find(&second, 1_000).is_none());
    }
}
