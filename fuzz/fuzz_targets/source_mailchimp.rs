//! Any body, signed with the source's secret so that it reaches normalize.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attentiond_fuzz::deliver(
    attentiond_fuzz::Kind::Mailchimp,
    data
));
