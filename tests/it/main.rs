//! Integration tests: the real daemon on 127.0.0.1, real HTTP, a fake HubSpot that
//! speaks HubSpot's request and response shapes.

mod cli;
mod crash;
mod fake_hubspot;
mod fake_pipedrive;
mod harness;
mod hubspot_source;
mod ingest;
mod sink;
mod sink_pipedrive;
mod source_behaviour;
mod source_mailchimp;
mod source_mandrill;
mod source_marketo;
mod source_pipedrive;
mod source_salesforce;
mod source_segment;
