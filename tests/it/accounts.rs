//! Buying groups as senders name them: a bare domain is the domain's account, a
//! CRM company gathers the colleagues known only by their work email, and a profile
//! alone puts a person in their group at once.

use crate::harness::*;

async fn post(daemon: &Daemon, body: serde_json::Value) {
    let status = daemon
        .post_site(&delivery_id("acct"), &body.to_string())
        .await
        .status();
    assert_eq!(status, 200, "{body}");
}

fn touch(email: &str, account: Option<&str>) -> serde_json::Value {
    let mut data =
        serde_json::json!({"email": email, "kind": "form_submit", "occurred_at": now_rfc3339()});
    if let Some(account) = account {
        data["account"] = account.into();
    }
    serde_json::json!({"type": "touch", "data": data})
}

fn member_emails(account: &serde_json::Value) -> Vec<String> {
    let mut emails: Vec<String> = account["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|member| member["email"].as_str().map(str::to_string))
        .collect();
    emails.sort();
    emails
}

#[tokio::test]
async fn a_bare_domain_given_as_the_account_is_the_domains_account() {
    let daemon = Daemon::start("");
    // The documented Python sender says `"account": "example.com"`; a colleague's
    // touch names no account at all.
    post(&daemon, touch("ann@example.com", Some("example.com"))).await;
    post(&daemon, touch("bo@example.com", None)).await;
    daemon.drained().await;
    let ann = daemon.contact("ann@example.com").await.expect("ann");
    assert_eq!(ann["account_key"], "domain:example.com", "{ann}");
    let account = daemon.account("example.com").await;
    assert_eq!(account["key"], "domain:example.com");
    assert_eq!(
        member_emails(&account),
        ["ann@example.com", "bo@example.com"]
    );
}

#[tokio::test]
async fn colleagues_known_by_email_join_their_companys_crm_account() {
    let daemon = Daemon::start("");
    post(&daemon, touch("cto@acme.io", Some("hubspot-company:42"))).await;
    daemon.drained().await;
    post(&daemon, touch("dev@acme.io", None)).await;
    daemon.drained().await;
    let dev = daemon.contact("dev@acme.io").await.expect("dev");
    assert_eq!(dev["account_key"], "hubspot-company:42", "{dev}");
    // The domain, as reasons and reps name it, finds the company's account.
    let account = daemon.account("acme.io").await;
    assert_eq!(account["key"], "hubspot-company:42", "{account}");
    assert_eq!(member_emails(&account), ["cto@acme.io", "dev@acme.io"]);
    assert_eq!(account["engaged_this_week"], 2, "{account}");
}

#[tokio::test]
async fn a_profile_alone_puts_a_person_in_their_buying_group_at_once() {
    let daemon = Daemon::start("");
    let profile = serde_json::json!({"type": "profile", "data": {
        "email": "cfo@globex.com", "fields": {"title": "CFO", "company": "Globex"}}});
    post(&daemon, profile).await;
    daemon.drained().await;
    let cfo = daemon.contact("cfo@globex.com").await.expect("cfo");
    assert_eq!(cfo["account_key"], "domain:globex.com", "{cfo}");
    let account = daemon.account("globex.com").await;
    assert_eq!(member_emails(&account), ["cfo@globex.com"]);
    // What a restart would make of the same store is what is there now.
    let before = daemon.contact("cfo@globex.com").await.expect("cfo");
    let dir = daemon.stop();
    let daemon = Daemon::start_in(dir, "");
    daemon.drained().await;
    let after = daemon.contact("cfo@globex.com").await.expect("cfo");
    assert_eq!(before["account_key"], after["account_key"]);
    assert_eq!(before["qualification_stage"], after["qualification_stage"]);
    assert_eq!(before["fit_grade"], after["fit_grade"]);
}
