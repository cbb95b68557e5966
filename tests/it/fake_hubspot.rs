//! A fake HubSpot CRM API on 127.0.0.1 for the contacts batch update.
//!
//! Shapes follow HubSpot's CRM v3 batch API as generated in hubspot-api-python
//! (`BatchResponseSimplePublicObject`, `...WithErrors`, `StandardError`) and the
//! error bodies of developers.hubspot.com/docs/api-reference/error-handling and
//! /docs/api/usage-details (429 with `policyName`).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "pat-na1-test-token";
const BATCH_LIMIT: usize = 100;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub authorization: Option<String>,
    pub body: serde_json::Value,
    pub at: Instant,
    pub answered: u16,
}

/// A canned answer for the next request, instead of the normal behaviour.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    missing: HashSet<String>,
    contacts: HashMap<String, serde_json::Map<String, serde_json::Value>>,
}

pub struct FakeHubspot {
    pub base: String,
    state: Arc<Mutex<State>>,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeHubspot {
    pub fn start() -> FakeHubspot {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = state.clone();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new().app_data(web::Data::new(shared.clone())).route(
                        "/crm/v3/objects/contacts/batch/update",
                        web::post().to(batch_update),
                    )
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                handle_tx.send(server.handle()).expect("handle");
                let _ = server.await;
            })
        });
        let server = handle_rx.recv().expect("fake started");
        FakeHubspot {
            base,
            state,
            server,
            thread: Some(thread),
        }
    }

    pub fn script(&self, status: u16, headers: &[(&str, &str)], body: serde_json::Value) {
        self.state.lock().unwrap().script.push_back(Scripted {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body,
        });
    }

    /// Ids HubSpot does not know: inputs naming them fail in a 207.
    pub fn forget(&self, id: &str) {
        self.state.lock().unwrap().missing.insert(id.to_string());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The properties HubSpot holds for a contact id (or email), after all writes.
    pub fn contact(&self, id: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.state.lock().unwrap().contacts.get(id).cloned()
    }

    pub async fn wait_for(&self, what: &str, done: impl Fn(&FakeHubspot) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "fake HubSpot never saw: {what}; requests: {:?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for FakeHubspot {
    fn drop(&mut self) {
        let stop = self.server.stop(false);
        drop(stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn respond(status: u16, headers: &[(String, String)], body: &serde_json::Value) -> HttpResponse {
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"));
    for (key, value) in headers {
        response.insert_header((key.as_str(), value.as_str()));
    }
    response.json(body)
}

async fn batch_update(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let mut state = state.lock().unwrap();
    let (status, headers, answer) = answer(&mut state, authorization.as_deref(), &body);
    state.requests.push(Recorded {
        authorization,
        body,
        at: Instant::now(),
        answered: status,
    });
    respond(status, &headers, &answer)
}

fn answer(
    state: &mut State,
    authorization: Option<&str>,
    body: &serde_json::Value,
) -> (u16, Vec<(String, String)>, serde_json::Value) {
    if authorization != Some(&format!("Bearer {TOKEN}")) {
        return (
            401,
            vec![],
            serde_json::json!({"status": "error", "message": "Authentication credentials not found.", "correlationId": "4f2b5e8a-0000-4000-8000-000000000001", "category": "INVALID_AUTHENTICATION"}),
        );
    }
    if let Some(scripted) = state.script.pop_front() {
        return (scripted.status, scripted.headers, scripted.body);
    }
    let Some(inputs) = body.get("inputs").and_then(|v| v.as_array()) else {
        return (
            400,
            vec![],
            serde_json::json!({"status": "error", "message": "Invalid input JSON on line 1", "correlationId": "4f2b5e8a-0000-4000-8000-000000000002", "category": "VALIDATION_ERROR"}),
        );
    };
    if inputs.len() > BATCH_LIMIT {
        return (
            400,
            vec![],
            serde_json::json!({"status": "error", "message": format!("Batch input size limit exceeded. Limit is {BATCH_LIMIT}."), "correlationId": "4f2b5e8a-0000-4000-8000-000000000003", "category": "VALIDATION_ERROR"}),
        );
    }
    let started = now_iso();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        let id = input
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let properties = input
            .get("properties")
            .and_then(|v| v.as_object())
            .cloned()
            .unwrap_or_default();
        if state.missing.contains(&id) {
            errors.push(serde_json::json!({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": format!("Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."),
                "context": {"ids": [id]},
                "errors": [],
                "links": {}
            }));
            continue;
        }
        state
            .contacts
            .entry(id.clone())
            .or_default()
            .extend(properties.clone());
        results.push(serde_json::json!({
            "id": id, "properties": properties, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": now_iso(), "archived": false
        }));
    }
    let completed = now_iso();
    if errors.is_empty() {
        (
            200,
            vec![],
            serde_json::json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": completed}),
        )
    } else {
        (
            207,
            vec![],
            serde_json::json!({
                "status": "COMPLETE", "results": results, "numErrors": errors.len(), "errors": errors,
                "startedAt": started, "completedAt": completed
            }),
        )
    }
}
