//! The token endpoint: client credentials and JWT bearer grants.

use super::*;
use base64::Engine;

fn oauth_error(error: &str, description: &str) -> Answer {
    Answer::json(
        400,
        serde_json::json!({"error": error, "error_description": description}),
    )
}

impl Salesforce {
    pub(super) fn token(&mut self, request: &Request) -> Answer {
        if self.unavailable > 0 {
            self.unavailable -= 1;
            return Answer::new(
                503,
                &[("Retry-After", "1")],
                serde_json::json!({"error": "temporarily_unavailable", "error_description": "service temporarily unavailable"}),
            );
        }
        let form = request.form();
        let get = |key: &str| form.get(key).map(String::as_str).unwrap_or_default();
        match get("grant_type") {
            "client_credentials" => {
                if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
                    return oauth_error("invalid_client", "invalid client credentials");
                }
            }
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                if let Err(reason) = check_assertion(self, get("assertion")) {
                    return oauth_error("invalid_grant", reason);
                }
            }
            _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
        }
        self.issued += 1;
        let access_token = format!("{}!AR.fake-session-{}", &ORG_ID[..15], self.issued);
        self.valid.insert(access_token.clone());
        Answer::json(
            200,
            serde_json::json!({
                "access_token": access_token,
                "signature": "c2lnbmF0dXJl",
                "scope": "api",
                "instance_url": self.base,
                "id": format!("https://login.salesforce.com/id/{ORG_ID}/{USER_ID}"),
                "token_type": "Bearer",
                "issued_at": chrono::Utc::now().timestamp_millis().to_string(),
            }),
        )
    }
}

fn check_assertion(salesforce: &Salesforce, jwt: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("invalid assertion");
    };
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()
    };
    let header: serde_json::Value = decode(header)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("invalid assertion")?;
    let claims: serde_json::Value = decode(claims)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("invalid assertion")?;
    if header["alg"] != "RS256" {
        return Err("invalid assertion");
    }
    let key = salesforce
        .jwt_public_key
        .as_ref()
        .ok_or("invalid client credentials")?;
    let signature = decode(signature).ok_or("invalid assertion")?;
    let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "invalid assertion")?;
    if claims["iss"] != CLIENT_ID {
        return Err("invalid client credentials");
    }
    if claims["aud"] != salesforce.base.as_str() {
        return Err("audience is invalid");
    }
    if claims["sub"] != USERNAME {
        return Err("user hasn't approved this consumer");
    }
    let now = chrono::Utc::now().timestamp();
    match claims["exp"].as_i64() {
        Some(exp) if exp > now && exp <= now + 300 => Ok(()),
        _ => Err("expired authorization code"),
    }
}
