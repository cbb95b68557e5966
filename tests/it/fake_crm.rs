//! What every fake CRM shares: an actix-web server on 127.0.0.1 in its own thread that
//! records every request it answers, plays the answers a test scripted where the CRM
//! would fail, can be slowed or taken down, and lets a test wait until it has seen
//! what the test expects. Each `fake_<crm>` keeps only what is that CRM's own: its
//! routes, its request and response shapes, its authentication.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a fake CRM does with one request. It answers under the fake's lock, so what it
/// keeps needs no locking of its own.
pub trait Crm: Send + 'static {
    /// The vendor's name, for failure messages.
    const NAME: &'static str;

    /// Answers `request`; where the vendor would fail a call (its writes, once the
    /// caller is authenticated), the CRM plays `script` first.
    fn answer(&mut self, request: &Request, script: &mut Script) -> Answer;
}

/// A request as the fake received it.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub text: String,
    /// The body when it is JSON, `Null` otherwise.
    pub body: serde_json::Value,
}

impl Request {
    fn read(request: &HttpRequest, body: &[u8]) -> Request {
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect();
        Request {
            method: request.method().to_string(),
            path: request.path().to_string(),
            query: request.query_string().to_string(),
            headers,
            text: String::from_utf8_lossy(body).into_owned(),
            body: serde_json::from_slice(body).unwrap_or(serde_json::Value::Null),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    /// The path's segments, for matching routes as slices.
    pub fn segments(&self) -> Vec<&str> {
        self.path.trim_start_matches('/').split('/').collect()
    }

    /// One decoded parameter of the query string.
    pub fn query_param(&self, name: &str) -> Option<String> {
        param_in(&self.query, name)
    }

    pub fn query_params(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub fn form(&self) -> HashMap<String, String> {
        form_in(&self.text)
    }
}

/// An answer: status, headers and a JSON body (`Null` answers with no body at all).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn new(status: u16, headers: &[(&str, &str)], body: serde_json::Value) -> Answer {
        Answer {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body,
        }
    }

    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer::new(status, &[], body)
    }

    /// What actix answers for a route the fake does not serve.
    pub fn no_route() -> Answer {
        Answer::json(404, serde_json::Value::Null)
    }

    /// The wait the answer asks for in `Retry-After`, in whole seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, value)| value.parse().ok())
            .map(Duration::from_secs)
    }

    fn respond(&self) -> HttpResponse {
        let mut response = HttpResponse::build(
            actix_web::http::StatusCode::from_u16(self.status).expect("status"),
        );
        for (name, value) in &self.headers {
            response.insert_header((name.as_str(), value.as_str()));
        }
        if self.body.is_null() {
            return response.finish();
        }
        response.json(&self.body)
    }
}

/// The answers a test queued, played one per call where the CRM consults it, and an
/// outage that answers every such call the same way until it ends.
#[derive(Default)]
pub struct Script {
    queued: VecDeque<Answer>,
    outage: Option<(Instant, Answer)>,
}

impl Script {
    /// The answer to give instead of the CRM's own, if any.
    pub fn play(&mut self) -> Option<Answer> {
        match &self.outage {
            Some((until, answer)) if Instant::now() < *until => Some(answer.clone()),
            _ => self.queued.pop_front(),
        }
    }
}

/// A request the fake answered, with what it answered and when.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub text: String,
    pub body: serde_json::Value,
    pub at: Instant,
    pub answered: u16,
    /// The body answered.
    pub answer: serde_json::Value,
}

impl Recorded {
    fn new(request: Request, answer: &Answer) -> Recorded {
        Recorded {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            text: request.text,
            body: request.body,
            at: Instant::now(),
            answered: answer.status,
            answer: answer.body.clone(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    /// One decoded parameter of the query string.
    pub fn query_param(&self, name: &str) -> Option<String> {
        param_in(&self.query, name)
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub fn form(&self) -> HashMap<String, String> {
        form_in(&self.text)
    }
}

fn form_in(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn header_in<'a>(headers: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    headers.get(&name.to_ascii_lowercase()).map(String::as_str)
}

fn param_in(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

struct Shared<C> {
    crm: C,
    script: Script,
    recorded: Vec<Recorded>,
    latency: Duration,
}

/// A fake CRM serving on 127.0.0.1, stopped and joined when dropped.
pub struct FakeCrm<C> {
    pub base: String,
    shared: Arc<Mutex<Shared<C>>>,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The vendors' batches can be large (Marketo takes 300 leads a call); actix's 256 kB
/// default would refuse some.
const MAX_BODY: usize = 8 << 20;

impl<C: Crm> FakeCrm<C> {
    /// Serves `crm` in its own thread and actix system.
    pub fn serve(crm: C) -> FakeCrm<C> {
        let shared = Arc::new(Mutex::new(Shared {
            crm,
            script: Script::default(),
            recorded: Vec::new(),
            latency: Duration::ZERO,
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(state.clone()))
                        .app_data(web::PayloadConfig::new(MAX_BODY))
                        .default_service(web::to(answer::<C>))
                })
                .workers(2)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                handle_tx.send(server.handle()).expect("handle");
                let _ = server.await;
            })
        });
        let server = handle_rx.recv().expect("fake started");
        FakeCrm {
            base,
            shared,
            server,
            thread: Some(thread),
        }
    }

    /// Reads or changes what the CRM holds.
    pub fn with<T>(&self, f: impl FnOnce(&mut C) -> T) -> T {
        f(&mut self.shared.lock().unwrap().crm)
    }

    /// The next call the CRM would fail gets this answer instead of its own.
    pub fn script(&self, answer: Answer) {
        self.shared.lock().unwrap().script.queued.push_back(answer);
    }

    /// Every call the CRM would fail gets `answer` for this long from now.
    pub fn outage(&self, length: Duration, answer: Answer) {
        self.shared.lock().unwrap().script.outage = Some((Instant::now() + length, answer));
    }

    /// Every call takes this long to answer, like a CRM across the internet.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().unwrap().latency = latency;
    }

    /// Every request, in the order they were answered.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().unwrap().recorded.clone()
    }

    /// The requests `keep` picks, in the order they were answered.
    pub fn requests_where(&self, keep: impl Fn(&Recorded) -> bool) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| keep(r)).collect()
    }

    /// Waits until `done` holds, or fails naming `what` and every request answered.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "fake {} never saw: {what}; requests: {:?}",
                C::NAME,
                self.requests()
                    .iter()
                    .map(|r| format!("{} {} → {}", r.method, r.path, r.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn answer<C: Crm>(
    shared: web::Data<Arc<Mutex<Shared<C>>>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let request = Request::read(&request, &body);
    let latency = shared.lock().unwrap().latency;
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }
    let mut shared = shared.lock().unwrap();
    let Shared { crm, script, .. } = &mut *shared;
    let answer = crm.answer(&request, script);
    shared.recorded.push(Recorded::new(request, &answer));
    answer.respond()
}

impl<C> Drop for FakeCrm<C> {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
