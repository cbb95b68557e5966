//! The lists behind the console, over HTTP: people and accounts sorted, filtered,
//! searched and paged; each source's deliveries and refusals (kept across a restart);
//! each sink's writes and failures; unknown routes as problems.

use crate::console_seed::{people, start, with_a_dead_letter, ACCOUNT, PERSON, VIEWER_TOKEN};
use crate::harness::{delivery_id, now_rfc3339, touch_body, Daemon};

async fn get(daemon: &Daemon, path: &str) -> (u16, serde_json::Value) {
    let answer = daemon
        .client
        .get(format!("{}{path}", daemon.base))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .expect("api");
    let status = answer.status().as_u16();
    if status >= 400 {
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
    }
    (status, answer.json().await.unwrap_or_default())
}

fn emails(page: &serde_json::Value) -> Vec<String> {
    page["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .map(|row| row["email"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn people_are_listed_sorted_filtered_searched_and_paged() {
    let daemon = start("");
    people(&daemon).await;
    let (status, all) = get(&daemon, "/api/v1/contacts").await;
    assert_eq!(status, 200);
    let scores: Vec<u64> = all["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["score"].as_u64().unwrap())
        .collect();
    assert_eq!(scores.len(), 4);
    assert!(
        scores.windows(2).all(|pair| pair[0] >= pair[1]),
        "{scores:?}"
    );
    assert_eq!(emails(&all)[0], PERSON, "the busiest person first");
    assert_eq!(all["contacts"][0]["name"], "Ann Lee");
    assert_eq!(all["contacts"][0]["sources"], serde_json::json!(["site"]));
    assert!(all["next_cursor"].is_null());

    // One at a time, following the cursor, gives the same list.
    let mut paged = Vec::new();
    let mut path = "/api/v1/contacts?limit=1".to_string();
    loop {
        let (status, page) = get(&daemon, &path).await;
        assert_eq!(status, 200);
        paged.extend(emails(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/contacts?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, emails(&all));

    let (_, ascending) = get(&daemon, "/api/v1/contacts?sort=score&order=asc").await;
    let mut reversed = emails(&all);
    reversed.reverse();
    assert_eq!(emails(&ascending), reversed);
    let (_, rising) = get(&daemon, "/api/v1/contacts?trend=rising").await;
    assert_eq!(emails(&rising), [PERSON, "bob@acme.com"]);
    let (_, at_acme) = get(
        &daemon,
        &format!("/api/v1/contacts?account={ACCOUNT}&sort=last_touch"),
    )
    .await;
    assert_eq!(
        emails(&at_acme),
        ["bob@acme.com", PERSON],
        "newest touch first"
    );
    let (_, by_name) = get(&daemon, "/api/v1/contacts?q=Stone").await;
    assert_eq!(emails(&by_name), ["bob@acme.com"]);
    let (_, by_email) = get(&daemon, "/api/v1/contacts?q=cy%40glob").await;
    assert_eq!(emails(&by_email), ["cy@globex.com"]);
    let dee = all["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["email"] == "dee@initech.io")
        .cloned()
        .unwrap();
    let grade = dee["fit_grade"].as_str().unwrap();
    let (_, same_fit) = get(
        &daemon,
        &format!("/api/v1/contacts?source=site&fit={grade}"),
    )
    .await;
    assert!(emails(&same_fit).contains(&"dee@initech.io".to_string()));
    assert!(same_fit["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|row| row["fit_grade"] == grade));
    let (_, nowhere) = get(&daemon, "/api/v1/contacts?source=hubspot").await;
    assert!(emails(&nowhere).is_empty());
    let (_, this_week) = get(&daemon, "/api/v1/contacts?stage=mql&entered_within_days=7").await;
    assert!(emails(&this_week).contains(&PERSON.to_string()));
    let (_, sales_ready) = get(
        &daemon,
        "/api/v1/contacts?stage=sales_ready&entered_within_days=7",
    )
    .await;
    assert!(emails(&sales_ready).is_empty(), "nobody is sales ready");

    // Bad input: a clear answer.
    for (path, says) in [
        ("/api/v1/contacts?stage=hot", "unknown stage `hot`"),
        ("/api/v1/contacts?sort=loudest", "cannot read the query"),
        ("/api/v1/contacts?matrix=Z9", "not a matrix cell"),
        ("/api/v1/contacts?limit=0", "at least 1"),
        ("/api/v1/contacts?limit=500", "at most 200"),
        ("/api/v1/contacts?cursor=%21%21", "not a cursor"),
        ("/api/v1/contacts?colour=red", "unknown field `colour`"),
        (
            "/api/v1/accounts?sort=score&order=sideways",
            "cannot read the query",
        ),
    ] {
        let (status, problem) = get(&daemon, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{path}: {problem}"
        );
    }
}

#[tokio::test]
async fn accounts_are_a_leaderboard_by_attention() {
    let daemon = start("");
    people(&daemon).await;
    let (status, board) = get(&daemon, "/api/v1/accounts").await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = board["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys[0], ACCOUNT, "{board}");
    assert_eq!(board["accounts"][0]["members"], 2);
    assert_eq!(board["accounts"][0]["people_engaged"], 2);
    let (_, found) = get(&daemon, "/api/v1/accounts?q=glob").await;
    assert_eq!(found["accounts"][0]["key"], "domain:globex.com");
    assert_eq!(found["accounts"].as_array().unwrap().len(), 1);
    let (_, by_name) = get(&daemon, "/api/v1/accounts?sort=name").await;
    let names: Vec<&str> = by_name["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "names read A to Z");
}

#[tokio::test]
async fn sources_count_deliveries_and_refusals_and_keep_them_across_a_restart() {
    let daemon = start("");
    daemon.touch("eve@acme.com", "email_open").await;
    let body = touch_body("eve@acme.com", "email_open", &now_rfc3339());
    let id = delivery_id("again");
    assert_eq!(daemon.post_site(&id, &body).await.status(), 200);
    // A redelivery is known as such at the door once its first copy is applied;
    // before that it is stored again and dropped by the pipeline.
    daemon.drained().await;
    assert_eq!(
        daemon.post_site(&id, &body).await.status(),
        200,
        "a duplicate"
    );
    let bad = touch_body("eve@acme.com", "telepathy", &now_rfc3339());
    assert_eq!(
        daemon.post_site(&delivery_id("bad"), &bad).await.status(),
        400
    );
    let unsigned = daemon.status("/webhooks/site", &[], &body).await;
    assert_eq!(unsigned, 401);
    let check = |view: &serde_json::Value| {
        let site = view["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|source| source["name"] == "site")
            .cloned()
            .expect("site");
        assert_eq!(site["accepted_24h"], 2, "{site}");
        assert_eq!(site["duplicate_24h"], 1, "{site}");
        assert_eq!(site["refused_24h"], 2, "{site}");
        let reasons: Vec<&str> = site["top_refusals_24h"]
            .as_array()
            .unwrap()
            .iter()
            .map(|refusal| refusal["reason"].as_str().unwrap())
            .collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("unknown kind `telepathy`")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("missing header")),
            "{reasons:?}"
        );
        assert!(site["last_delivery_at"].is_string());
        assert_eq!(site["silent"], false);
        let hubspot = view["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|source| source["name"] == "hubspot")
            .cloned()
            .expect("hubspot");
        assert!(hubspot["last_delivery_at"].is_null());
    };
    let (_, view) = get(&daemon, "/api/v1/sources").await;
    check(&view);
    assert!(view["pipeline"]["running"].as_bool().unwrap());
    let dir = daemon.stop();
    let again = Daemon::start_with(
        tempfile::tempdir().unwrap(),
        crate::console_seed::config(dir.path(), ""),
    );
    let (_, view) = get(&again, "/api/v1/sources").await;
    check(&view);
}

#[tokio::test]
async fn sinks_show_their_failures_and_dead_letters() {
    let (_fake, daemon) = with_a_dead_letter().await;
    let (status, view) = get(&daemon, "/api/v1/sinks").await;
    assert_eq!(status, 200);
    let sink = &view["sinks"][0];
    assert_eq!(sink["name"], "hubspot");
    assert_eq!(sink["kind"], "hubspot");
    let letters = daemon.dead_letters().await.len() as u64;
    assert_eq!(sink["dead_letters"], letters);
    assert!(sink["failed_24h"].as_u64().unwrap() >= letters, "{sink}");
    assert!(sink["error_rate_24h"].as_f64().unwrap() > 0.0);
    // Once HubSpot takes writes again (its outage lasts seconds), a retried letter is
    // written and the write is seen.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let retried = daemon
            .client
            .post(format!("{}/api/v1/dead-letters/retry", daemon.base))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(retried.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let (_, view) = get(&daemon, "/api/v1/sinks").await;
        let sink = &view["sinks"][0];
        if sink["last_success_at"].is_string() {
            assert!(sink["written_24h"].as_u64().unwrap() >= 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no write succeeded: {sink}"
        );
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_problem() {
    let daemon = start("");
    for path in ["/nothing-here", "/api/v1/nothing", "/assets/missing.js"] {
        let answer = reqwest::get(format!("{}{path}", daemon.base))
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(problem["status"], 404);
    }
}

/// A new half-life orders people otherwise: the next start indexes them anew, with
/// the pipeline applying what arrives between its chunks, and lists the same people
/// with every sort and search, the newcomer included.
#[tokio::test]
async fn a_new_half_life_indexes_the_lists_anew_at_start() {
    let daemon = start("");
    people(&daemon).await;
    daemon.drained().await;
    let (_, before) = get(&daemon, "/api/v1/contacts").await;
    assert_eq!(
        before.get("indexing"),
        Some(&serde_json::Value::Null),
        "{before}"
    );
    let dir = daemon.stop();
    let config = crate::console_seed::config(dir.path(), "[scoring]\nhalf_life_days = 7.0\n");
    let daemon = Daemon::start_with(dir, config);
    let body = touch_body("eve@hooli.com", "demo_request", &now_rfc3339());
    let answer = daemon.post_site(&delivery_id("after"), &body).await;
    assert_eq!(answer.status(), 200);
    daemon.drained().await;
    let (status, after) = get(&daemon, "/api/v1/contacts").await;
    assert_eq!(status, 200);
    // Built whole before the delivery after it was applied.
    assert_eq!(
        after.get("indexing"),
        Some(&serde_json::Value::Null),
        "{after}"
    );
    let (_, board) = get(&daemon, "/api/v1/accounts").await;
    assert_eq!(
        board.get("indexing"),
        Some(&serde_json::Value::Null),
        "{board}"
    );
    let mut expected = emails(&before);
    expected.push("eve@hooli.com".into());
    let mut listed = emails(&after);
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    for path in [
        "/api/v1/contacts?sort=stage",
        "/api/v1/contacts?sort=trend&order=asc",
        "/api/v1/contacts?sort=last_touch",
    ] {
        let (_, page) = get(&daemon, path).await;
        let mut sorted = emails(&page);
        sorted.sort();
        assert_eq!(sorted, expected, "{path}");
    }
    let (_, found) = get(&daemon, "/api/v1/contacts?q=eve%40hoo").await;
    assert_eq!(emails(&found), ["eve@hooli.com"]);
    let id = after["contacts"][0]["id"].as_str().expect("a public id");
    let (_, by_id) = get(&daemon, &format!("/api/v1/contacts?q={id}")).await;
    assert!(emails(&by_id).contains(&emails(&after)[0]), "{id}: {by_id}");
}

/// The console's People page as the session `cookie` sees it.
async fn people_page(daemon: &Daemon, cookie: &str) -> String {
    daemon
        .client
        .get(format!("{}/people", daemon.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("the people page")
        .text()
        .await
        .expect("html")
}

/// A store whose lists are built anew at start (here for a new half-life) answers
/// webhooks and lists meanwhile; the lists say how far the build is, in the API and
/// above the console's table, and are whole once it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_read_while_they_are_built_anew_say_so_and_webhooks_are_served() {
    const PEOPLE: u64 = 5_000;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = attentiond::store::Store::open(&dir.path().join("data")).unwrap();
        let now = attentiond::clock::now_millis();
        for first in (1..=PEOPLE).step_by(1_000) {
            let mut round = store.round();
            for id in first..first + 1_000 {
                let mut contact = attentiond::store::Contact::new(id, now);
                contact.add_identity(attentiond::model::Identity::email(&format!(
                    "p{id}@built.example"
                )));
                round.put_contact(&contact).unwrap();
            }
            round.commit(None).unwrap();
        }
    }
    let config = crate::console_seed::config(dir.path(), "[scoring]\nhalf_life_days = 7.0\n");
    let daemon = Daemon::start_with(dir, config);
    // Until the build begins, the lists are whole in the order they were built in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, page) = get(&daemon, "/api/v1/contacts?limit=1").await;
        assert_eq!(status, 200);
        if !page["indexing"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the build never began"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (cookie, _) = crate::console_security::sign_in(&daemon, VIEWER_TOKEN, &[]).await;
    let body = touch_body("during@built.example", "demo_request", &now_rfc3339());
    let answer = daemon.post_site(&delivery_id("during"), &body).await;
    assert_eq!(answer.status(), 200);

    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let html = people_page(&daemon, &cookie).await;
        let said = html
            .contains(r#"<p class="notice warn" role="status">The lists are being built anew: "#);
        let (status, page) = get(&daemon, "/api/v1/contacts?limit=1").await;
        assert_eq!(status, 200);
        let indexing = page
            .get("indexing")
            .cloned()
            .expect("the field is always there");
        if indexing.is_null() {
            break;
        }
        let indexed = indexing["indexed"].as_u64().expect("indexed");
        assert!(indexed <= PEOPLE + 1, "{indexing}");
        if let Some(contacts) = indexing["contacts"].as_u64() {
            assert!((PEOPLE..=PEOPLE + 1).contains(&contacts), "{indexing}");
        }
        seen.push((indexed, said));
        assert!(
            std::time::Instant::now() < deadline,
            "never built: {seen:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!seen.is_empty(), "the build was never seen under way");
    assert!(
        seen.iter().any(|(indexed, _)| *indexed >= 2_048),
        "the count never moved: {seen:?}"
    );
    assert!(
        seen.iter().any(|(_, said)| *said),
        "the console never said so: {seen:?}"
    );
    let html = people_page(&daemon, &cookie).await;
    assert!(!html.contains("being built anew"));

    daemon.drained().await;
    let (_, found) = get(&daemon, "/api/v1/contacts?q=during%40built").await;
    assert_eq!(emails(&found), ["during@built.example"]);
    let (_, page) = get(&daemon, "/api/v1/contacts?limit=200&sort=last_touch").await;
    assert_eq!(page["contacts"].as_array().map(Vec::len), Some(200));
    assert_eq!(page["contacts"][0]["email"], "during@built.example");
}
