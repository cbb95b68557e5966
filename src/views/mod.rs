//! What people are shown: a contact, an account, the calculation behind a score,
//! the dead letters. Read from the store and scored as of the moment asked, for the
//! admin API and the CLI alike; nothing here writes.

pub mod account;
pub mod contact;
pub mod dead_letters;
pub mod explain;

pub use account::{account_view, AccountView};
pub use contact::{contact_view, ContactView, OutcomeView};
pub use dead_letters::dead_letters_json;
pub use explain::explain;
