//! The console and the API keep people out: no page or answer without a session or
//! a token, viewers change nothing, a change from another site or without its CSRF
//! token is refused, and the session cookie is set as it should be.

use crate::console_seed::{with_a_dead_letter, VIEWER_TOKEN};
use crate::harness::{Daemon, ADMIN_TOKEN};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// Signs in with `token` and returns the session cookie (`name=value`) and the full
/// `Set-Cookie` header.
pub async fn sign_in(daemon: &Daemon, token: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = client()
        .post(format!("{}/sign-in", daemon.base))
        .form(&[("token", token), ("next", "/")]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.expect("sign-in");
    assert_eq!(answer.status(), 303);
    let set = answer
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    let pair = set.split(';').next().unwrap().to_string();
    (pair, set)
}

/// The CSRF token the dead-letters page's forms carry for this session.
async fn csrf(daemon: &Daemon, cookie: &str) -> String {
    let html = client()
        .get(format!("{}/dead-letters", daemon.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

async fn letter_ids(daemon: &Daemon) -> Vec<String> {
    daemon
        .dead_letters()
        .await
        .iter()
        .map(|letter| letter["id"].as_str().unwrap().to_string())
        .collect()
}

const PAGES: &[&str] = &[
    "/",
    "/people",
    "/people/ann@acme.com",
    "/accounts",
    "/accounts/domain:acme.com",
    "/dead-letters",
    "/scoring",
];

const API: &[&str] = &[
    "/api/v1/contacts",
    "/api/v1/contacts/ann@acme.com",
    "/api/v1/contacts/ann@acme.com/explain",
    "/api/v1/accounts",
    "/api/v1/accounts/domain:acme.com",
    "/api/v1/outcomes?account=domain:acme.com",
    "/api/v1/sources",
    "/api/v1/sinks",
    "/api/v1/dead-letters",
];

#[tokio::test]
async fn no_page_or_api_answer_without_a_session_or_token() {
    let (_fake, daemon) = with_a_dead_letter().await;
    let client = client();
    for path in PAGES {
        for cookie in [None, Some("attentiond_session=forged-or-expired")] {
            let mut request = client.get(format!("{}{path}", daemon.base));
            if let Some(cookie) = cookie {
                request = request.header(COOKIE, cookie);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 303, "{path}");
            let to = answer.headers()[LOCATION].to_str().unwrap().to_string();
            assert!(to.starts_with("/sign-in?next="), "{path} → {to}");
            assert!(!answer.text().await.unwrap().contains("ann@acme.com"));
        }
    }
    for path in API {
        for token in [None, Some("wrong-token"), Some("")] {
            let mut request = client.get(format!("{}{path}", daemon.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 401, "{path} with {token:?}");
            assert_eq!(
                answer.headers()["content-type"],
                "application/problem+json",
                "{path}"
            );
            assert!(!answer.text().await.unwrap().contains("ann@acme.com"));
        }
        // A session cookie is not a token: the API is for scripts.
        let (cookie, _) = sign_in(&daemon, ADMIN_TOKEN, &[]).await;
        let answer = client
            .get(format!("{}{path}", daemon.base))
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{path} with a cookie");
    }
    // Both tokens read.
    for token in [ADMIN_TOKEN, VIEWER_TOKEN] {
        for path in API {
            let answer = client
                .get(format!("{}{path}", daemon.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "{path}");
        }
    }
}

#[tokio::test]
async fn a_viewer_changes_nothing() {
    let (_fake, daemon) = with_a_dead_letter().await;
    let before = letter_ids(&daemon).await;
    let id = &before[0];
    let client = client();
    for (method, path) in [
        (
            reqwest::Method::POST,
            format!("/api/v1/dead-letters/{id}/retry"),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/dead-letters/retry".to_string(),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/dead-letters/{id}"),
        ),
    ] {
        let answer = client
            .request(method, format!("{}{path}", daemon.base))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{path}");
        let problem: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(problem["detail"], "a viewer token cannot change anything");
    }
    let (cookie, _) = sign_in(&daemon, VIEWER_TOKEN, &[]).await;
    let token = csrf(&daemon, &cookie).await;
    for action in ["retry", "delete"] {
        let answer = client
            .post(format!("{}/dead-letters/{id}/{action}", daemon.base))
            .header(COOKIE, &cookie)
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{action}");
    }
    assert_eq!(letter_ids(&daemon).await, before, "nothing changed");
}

/// Form fields and headers of one attempt.
type Form<'a> = Vec<(&'a str, &'a str)>;
type Headers<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test]
async fn a_cross_site_change_or_one_without_its_csrf_token_is_refused() {
    let (_fake, daemon) = with_a_dead_letter().await;
    let before = letter_ids(&daemon).await;
    let id = &before[0];
    let (cookie, _) = sign_in(&daemon, ADMIN_TOKEN, &[]).await;
    let token = csrf(&daemon, &cookie).await;
    let retry = format!("{}/dead-letters/{id}/retry", daemon.base);
    let client = client();
    let refused: [(Form, Headers); 5] = [
        (vec![], vec![]),
        (vec![("csrf", "not-the-token")], vec![]),
        (vec![("csrf", "")], vec![]),
        (
            vec![("csrf", token.as_str())],
            vec![("origin", "https://evil.example")],
        ),
        (
            vec![("csrf", token.as_str())],
            vec![("sec-fetch-site", "cross-site")],
        ),
    ];
    for (form, headers) in refused {
        let mut request = client.post(&retry).header(COOKIE, &cookie).form(&form);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 403, "{form:?} {headers:?}");
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(letter_ids(&daemon).await, before, "nothing changed");
    // A forged sign-in from another site gets no session either.
    let forged = client
        .post(format!("{}/sign-in", daemon.base))
        .header("origin", "https://evil.example")
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get(SET_COOKIE).is_none());
    // From our own page, with the token, it goes through.
    let answer = client
        .post(&retry)
        .header(COOKIE, &cookie)
        .header("origin", daemon.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    assert!(!letter_ids(&daemon).await.contains(id));
    // And an admin deletes one.
    let other = before
        .iter()
        .find(|other| *other != id)
        .expect("a second letter");
    let answer = client
        .post(format!("{}/dead-letters/{other}/delete", daemon.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()[LOCATION].to_str().unwrap(),
        "/dead-letters?done=deleted"
    );
    assert!(!letter_ids(&daemon).await.contains(other));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_behind_https() {
    let daemon = crate::console_seed::start("");
    let (_, plain) = sign_in(&daemon, ADMIN_TOKEN, &[]).await;
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(plain.contains(flag), "{flag} in {plain}");
    }
    assert!(
        !plain.contains("Secure"),
        "plain http cannot keep a Secure cookie"
    );
    let (_, proxied) = sign_in(&daemon, ADMIN_TOKEN, &[("x-forwarded-proto", "https")]).await;
    assert!(proxied.contains("; Secure"), "{proxied}");
    let session = plain
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    assert!(session.len() >= 43, "256 random bits: {session}");
    // A wrong token gets the form again and no cookie.
    let wrong = client()
        .post(format!("{}/sign-in", daemon.base))
        .form(&[("token", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 303);
    assert!(wrong.headers()[LOCATION]
        .to_str()
        .unwrap()
        .contains("failed=1"));
    assert!(wrong.headers().get(SET_COOKIE).is_none());

    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::console_seed::config(dir.path(), "");
    config.server.public_url = Some("https://attention.example.com".into());
    let behind_tls = Daemon::start_with(dir, config);
    let (_, secure) = sign_in(
        &behind_tls,
        ADMIN_TOKEN,
        &[("origin", "https://attention.example.com")],
    )
    .await;
    assert!(secure.contains("; Secure"), "{secure}");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let daemon = crate::console_seed::start("");
    let (cookie, _) = sign_in(&daemon, ADMIN_TOKEN, &[]).await;
    let client = client();
    let page = |cookie: String| {
        client
            .get(format!("{}/people", daemon.base))
            .header(COOKIE, cookie)
            .send()
    };
    assert_eq!(page(cookie.clone()).await.unwrap().status(), 200);
    let token = csrf(&daemon, &cookie).await;
    let without = client
        .post(format!("{}/sign-out", daemon.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 400, "a sign-out form without its token");
    let out = client
        .post(format!("{}/sign-out", daemon.base))
        .header(COOKIE, &cookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        page(cookie).await.unwrap().status(),
        303,
        "the old cookie opens nothing"
    );
}
