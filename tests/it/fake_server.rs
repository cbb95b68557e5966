//! What every fake CRM shares: an actix-web server on 127.0.0.1 in its own thread and
//! actix system, holding the fake's state, stopped and joined when dropped.

use actix_web::{web, App, HttpServer};
use std::sync::{Arc, Mutex};

pub struct FakeServer {
    pub base: String,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Serves `routes`; handlers read the state as `web::Data<Arc<Mutex<S>>>`.
    pub fn start<S: Send + 'static>(
        state: Arc<Mutex<S>>,
        routes: fn(&mut web::ServiceConfig),
    ) -> FakeServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(state.clone()))
                        .configure(routes)
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
        FakeServer {
            base,
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
