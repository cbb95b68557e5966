//! Integration tests: the real daemon on 127.0.0.1, real HTTP, fake CRMs that speak
//! their vendors' request and response shapes.

mod backpressure;
mod cli;
mod crash;
mod deal_lookup;
mod fake_crm;
mod fake_hubspot;
mod fake_marketo;
mod fake_pipedrive;
mod fake_salesforce;
mod full_disk;
mod harness;
mod ingest;
mod learning;
mod outcomes;
mod qualification;
mod report;
mod sink_delivery;
mod sink_hubspot;
mod sink_marketo;
mod sink_pipedrive;
mod sink_salesforce;
mod sink_scenarios;
mod source_calendly;
mod source_hubspot;
mod source_intercom;
mod source_mailchimp;
mod source_mandrill;
mod source_marketo;
mod source_pipedrive;
mod source_salesforce;
mod source_segment;
mod source_typeform;
mod source_zoom;
mod two_memories;
mod upgrade;
