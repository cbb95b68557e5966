//! The Salesforce Outbound Message reader: any body with the right URL token, so
//! every input goes through the XML reader, and through normalize when its
//! OrganizationId is the configured one (the seeds' is).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attentiond_fuzz::deliver(
    attentiond_fuzz::Kind::Salesforce,
    data
));
