//! Sources: one file (or folder) per platform, each verifying the platform's signature
//! and turning its payload into [`Event`]s. Pure functions of (bytes, headers, url,
//! config, now).
//!
//! What the platforms share stands apart, below them: the delivery they read and the
//! answers they give (`delivery`), HMAC signatures and timestamp windows
//! (`signature`), and settings tables that map names to touch kinds (`kind_table`).
//!
//! Adding a platform is one file (or folder) here, one `pub mod` line, one variant of
//! [`SourceConfig`] and its arm in each of the two matches below.

use crate::model::{Event, Millis};
use serde::Deserialize;

pub use delivery::{authorization, Adapter, Credentials, Delivery, Head, Reply, SourceError};
pub use plausible::{excerpt, EARLIEST, LATEST_AHEAD_MILLIS};

mod delivery;
mod kind_table;
mod plausible;
mod signature;

pub mod calendly;
pub mod hubspot;
pub mod intercom;
pub mod mailchimp;
pub mod mandrill;
pub mod mapped;
pub mod marketo;
pub mod pipedrive;
pub mod salesforce;
pub mod segment;
pub mod standard;
pub mod typeform;
pub mod zoom;

/// `[sources.<name>]`; `kind` picks the platform. The variants' order is the order
/// in which a wrong `kind` lists the right ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Built once at start-up and never moved on a hot path: size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum SourceConfig {
    Hubspot(hubspot::HubspotSource),
    Mailchimp(mailchimp::MailchimpSource),
    Mandrill(mandrill::MandrillSource),
    Salesforce(salesforce::SalesforceSource),
    Marketo(marketo::MarketoSource),
    Pipedrive(pipedrive::PipedriveSource),
    Standard(standard::StandardSource),
    Calendly(calendly::CalendlySource),
    Typeform(typeform::TypeformSource),
    Zoom(zoom::ZoomSource),
    Intercom(intercom::IntercomSource),
    Mapped(mapped::MappedSource),
    Segment(segment::SegmentSource),
}

impl SourceConfig {
    fn adapter(&self) -> &dyn Adapter {
        match self {
            SourceConfig::Hubspot(source) => source,
            SourceConfig::Mailchimp(source) => source,
            SourceConfig::Mandrill(source) => source,
            SourceConfig::Salesforce(source) => source,
            SourceConfig::Marketo(source) => source,
            SourceConfig::Pipedrive(source) => source,
            SourceConfig::Standard(source) => source,
            SourceConfig::Calendly(source) => source,
            SourceConfig::Typeform(source) => source,
            SourceConfig::Zoom(source) => source,
            SourceConfig::Intercom(source) => source,
            SourceConfig::Mapped(source) => source,
            SourceConfig::Segment(source) => source,
        }
    }

    /// The config `kind` of this source.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Hubspot(_) => "hubspot",
            SourceConfig::Mailchimp(_) => "mailchimp",
            SourceConfig::Mandrill(_) => "mandrill",
            SourceConfig::Salesforce(_) => "salesforce",
            SourceConfig::Marketo(_) => "marketo",
            SourceConfig::Pipedrive(_) => "pipedrive",
            SourceConfig::Standard(_) => "standard",
            SourceConfig::Calendly(_) => "calendly",
            SourceConfig::Typeform(_) => "typeform",
            SourceConfig::Zoom(_) => "zoom",
            SourceConfig::Intercom(_) => "intercom",
            SourceConfig::Mapped(_) => "mapped",
            SourceConfig::Segment(_) => "segment",
        }
    }
}

/// Events of a delivery whose signature was checked. Only [`SourceConfig::accept`]
/// makes one, so code that stores deliveries cannot be handed an unverified one.
#[derive(Debug)]
pub struct Accepted {
    events: Vec<Event>,
}

impl Accepted {
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

impl SourceConfig {
    /// Checks the credentials outside the body, verifies, normalizes, then refuses what
    /// no platform can mean (times before 2000 or far ahead, unusable addresses).
    pub fn accept(&self, delivery: &Delivery<'_>, now: Millis) -> Result<Accepted, SourceError> {
        let adapter = self.adapter();
        adapter.authenticate(&delivery.head(), now)?;
        adapter.verify(delivery, now)?;
        let events = plausible::check(adapter.normalize(delivery)?, now)?;
        Ok(Accepted { events })
    }

    /// The credentials a request carries outside its body, checked before the body is
    /// read; [`SourceConfig::accept`] checks them again.
    pub fn authenticate(&self, head: &Head<'_>, now: Millis) -> Result<Credentials, SourceError> {
        self.adapter().authenticate(head, now)
    }

    /// Pure checks of the source's settings: the offending key and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.adapter().validate()
    }

    pub fn probe(
        &self,
        delivery: &Delivery<'_>,
        now: Millis,
    ) -> Option<Result<Reply, SourceError>> {
        self.adapter().probe(delivery, now)
    }

    pub fn acknowledgement(&self) -> Option<Reply> {
        self.adapter().acknowledgement()
    }

    pub fn refusal(&self, error: &SourceError) -> Option<Reply> {
        self.adapter().refusal(error)
    }
}

#[cfg(test)]
mod tests;
