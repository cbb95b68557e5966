//! Getting an access token: the OAuth 2.0 client credentials flow on the org's My
//! Domain, or the JWT bearer flow with an RS256-signed assertion.
//!
//! Neither flow issues a refresh token or says when the token expires (that is the
//! org's session timeout), so a token is kept until Salesforce answers
//! `INVALID_SESSION_ID`, and then a new one is fetched the same way.

use super::error::{describe, CallError};
use super::{AuthFlow, Salesforce};
use crate::sinks::token::AccessToken;
use crate::sinks::{is_url, retry};
use base64::Engine;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use std::time::Duration;

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Salesforce refuses an assertion whose `exp` is more than three minutes away.
const ASSERTION_LIFETIME_SECS: i64 = 180;

/// A token and where to use it.
#[derive(Clone)]
pub struct Token {
    pub access_token: String,
    /// REST calls go here (the token response's `instance_url`).
    pub instance_url: String,
    /// The user the token acts as, from the identity URL `…/id/<org>/<user>`.
    pub user_id: Option<String>,
}

impl AccessToken for Token {
    fn access(&self) -> &str {
        &self.access_token
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"[redacted]")
            .field("instance_url", &self.instance_url)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// The fields of the token response we use (`access_token`, `instance_url`, `id`,
/// `token_type`, `issued_at`, `signature`, `scope` come back; jsforce `TokenResponse`).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    instance_url: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

/// The token endpoint's error body, `{"error": "invalid_client", "error_description": "…"}`.
#[derive(Deserialize)]
struct OauthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

pub async fn fetch(
    sink: &Salesforce,
    timeout: Duration,
    client: &reqwest::Client,
) -> Result<Token, CallError> {
    let (url, form) = match sink.auth {
        AuthFlow::ClientCredentials => (
            token_url(&sink.instance_url),
            vec![
                ("grant_type", "client_credentials".to_string()),
                ("client_id", sink.client_id.clone()),
                (
                    "client_secret",
                    sink.client_secret
                        .as_ref()
                        .map(|secret| secret.expose().to_string())
                        .unwrap_or_default(),
                ),
            ],
        ),
        AuthFlow::Jwt => {
            let assertion = assertion(sink, chrono::Utc::now().timestamp())?;
            (
                token_url(&sink.login_url),
                vec![
                    ("grant_type", JWT_GRANT.to_string()),
                    ("assertion", assertion),
                ],
            )
        }
    };
    let response = client
        .post(&url)
        .timeout(timeout)
        .form(&form)
        .send()
        .await
        .map_err(CallError::network)?;
    let status = response.status().as_u16();
    let retry_after = retry::retry_after(response.headers());
    let text = response.text().await.unwrap_or_default();
    match status {
        200 => {
            let token: TokenResponse =
                serde_json::from_str(&text).map_err(|error| CallError::Unreadable {
                    what: "/services/oauth2/token".into(),
                    message: error.to_string(),
                })?;
            let instance_url = token
                .instance_url
                .filter(|url| is_url(url))
                .unwrap_or_else(|| sink.instance_url.clone());
            Ok(Token {
                access_token: token.access_token,
                instance_url: instance_url.trim_end_matches('/').to_string(),
                user_id: token.id.as_deref().and_then(user_id),
            })
        }
        400..=403 => Err(CallError::Auth {
            status,
            message: oauth_error(status, &text),
        }),
        _ => Err(CallError::Status {
            what: "/services/oauth2/token".into(),
            status,
            retry_after,
            code: None,
            message: oauth_error(status, &text),
        }),
    }
}

fn token_url(base: &str) -> String {
    format!("{}/services/oauth2/token", base.trim_end_matches('/'))
}

fn oauth_error(status: u16, body: &str) -> String {
    match serde_json::from_str::<OauthError>(body) {
        Ok(error) if error.error_description.is_empty() => {
            format!("HTTP {status} {}", error.error)
        }
        Ok(error) => format!("HTTP {status} {}: {}", error.error, error.error_description),
        Err(_) => describe(status, body),
    }
}

/// `https://login.salesforce.com/id/00Dxx…/005xx…` → `005xx…`.
fn user_id(identity_url: &str) -> Option<String> {
    let last = identity_url.trim_end_matches('/').rsplit('/').next()?;
    (last.starts_with("005") && last.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| last.to_string())
}

/// The signed JWT: header `{"alg":"RS256"}`, claims `iss` (the consumer key), `sub`
/// (the username), `aud` (the login URL) and `exp`.
pub fn assertion(sink: &Salesforce, now_secs: i64) -> Result<String, CallError> {
    let path = sink
        .private_key_file
        .as_ref()
        .ok_or_else(|| CallError::Credentials("no private_key_file".into()))?;
    let pem = std::fs::read_to_string(path).map_err(|error| {
        CallError::Credentials(format!(
            "cannot read private_key_file {}: {error}",
            path.display()
        ))
    })?;
    let key = private_key(&pem).map_err(|error| {
        CallError::Credentials(format!("private_key_file {}: {error}", path.display()))
    })?;
    let claims = serde_json::json!({
        "iss": sink.client_id,
        "sub": sink.username.clone().unwrap_or_default(),
        "aud": sink.login_url.trim_end_matches('/'),
        "exp": now_secs + ASSERTION_LIFETIME_SECS,
    });
    sign(&key, &claims)
}

fn sign(key: &RsaKeyPair, claims: &serde_json::Value) -> Result<String, CallError> {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let signing_input = format!(
        "{}.{}",
        encode(br#"{"alg":"RS256"}"#),
        encode(claims.to_string().as_bytes())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| CallError::Credentials("cannot sign the JWT with this key".into()))?;
    Ok(format!("{signing_input}.{}", encode(&signature)))
}

/// An unencrypted RSA key in PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl genpkey`
/// and OpenSSL 3's `genrsa` write) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
pub fn private_key(pem: &str) -> Result<RsaKeyPair, String> {
    let (label, der) = pem_block(pem)?;
    match label.as_str() {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der).map_err(|error| error.to_string()),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der).map_err(|error| error.to_string()),
        "ENCRYPTED PRIVATE KEY" => {
            Err("the key is encrypted; decrypt it with `openssl pkcs8 -topk8 -nocrypt`".into())
        }
        other => Err(format!("expected an RSA private key, found `{other}`")),
    }
}

fn pem_block(pem: &str) -> Result<(String, Vec<u8>), String> {
    let mut label = None;
    let mut body = String::new();
    for line in pem.lines().map(str::trim) {
        if let Some(begin) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        {
            label = Some(begin.to_string());
            continue;
        }
        if line.starts_with("-----END ") {
            break;
        }
        if label.is_some() && !line.contains(':') {
            body.push_str(line);
        }
    }
    let label = label.ok_or("not a PEM file")?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|error| format!("bad PEM body: {error}"))?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    const PKCS8: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/keys/salesforce_jwt_test.pem"
    ));
    const PKCS1: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/keys/salesforce_jwt_test_rsa.pem"
    ));

    fn sink(key_path: &std::path::Path) -> Salesforce {
        serde_json::from_value(serde_json::json!({
            "instance_url": "https://acme.my.salesforce.com",
            "auth": "jwt",
            "client_id": "3MVG9consumer",
            "username": "integration@acme.com",
            "private_key_file": key_path,
            "login_url": "https://test.salesforce.com/",
        }))
        .unwrap()
    }

    fn decode(part: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_assertion_carries_the_claims_salesforce_checks_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, PKCS8).unwrap();
        let jwt = assertion(&sink(&path), 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(decode(parts[0]), serde_json::json!({"alg": "RS256"}));
        assert_eq!(
            decode(parts[1]),
            serde_json::json!({"iss": "3MVG9consumer", "sub": "integration@acme.com",
                "aud": "https://test.salesforce.com", "exp": 1_700_000_180})
        );
        let key = private_key(PKCS8).unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public().as_ref())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("signature verifies with the public key");
    }

    #[test]
    fn pkcs1_and_pkcs8_keys_are_read_and_others_named() {
        let pkcs8 = private_key(PKCS8).unwrap();
        let pkcs1 = private_key(PKCS1).unwrap();
        assert_eq!(pkcs8.public().as_ref(), pkcs1.public().as_ref());
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(private_key(encrypted).unwrap_err().contains("encrypted"));
        assert!(
            private_key("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
                .unwrap_err()
                .contains("CERTIFICATE")
        );
        assert!(private_key("hello").is_err());
    }

    #[test]
    fn a_missing_key_file_says_which() {
        let error = assertion(&sink(std::path::Path::new("/nonexistent/key.pem")), 0).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/key.pem"),
            "{error}"
        );
    }

    #[test]
    fn the_user_is_the_last_part_of_the_identity_url() {
        assert_eq!(
            user_id("https://login.salesforce.com/id/00D5e000000KQ2eEAG/0055e000001AbCdAAK")
                .as_deref(),
            Some("0055e000001AbCdAAK")
        );
        assert_eq!(
            user_id("https://login.salesforce.com/id/00D5e000000KQ2eEAG/"),
            None
        );
    }
}
