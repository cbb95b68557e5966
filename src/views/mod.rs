//! What people are shown: a contact, an account, the calculation behind a score,
//! the dead letters, the people and account lists, a person's attention over time,
//! the overview's figures. Read from the store and scored as of the moment asked, for
//! the admin API, the console and the CLI alike; nothing here writes.

pub mod account;
pub mod contact;
pub mod dead_letters;
pub mod explain;
pub mod export;
pub mod lists;
pub mod overview;
pub mod person;
pub mod quarantine;
pub mod timeline;

pub use account::{account_view, AccountView};
pub use contact::{contact_view, ContactView, OutcomeView};
pub use dead_letters::{dead_letters, dead_letters_json, DeadLetterView, DeadLettersView};
pub use explain::explain;
pub use export::{export, ExportView};
pub use quarantine::{quarantine, ParkedView, QuarantineView};
