//! The settings loader on any text: TOML, then the typed settings, then validation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `*_file` keys read files: what they name is the operator's business, not the
    // parser's, and a fuzzer could name /dev/zero.
    if text.contains("_file") {
        return;
    }
    if let Ok(config) = attentiond::config::Config::from_toml(text) {
        // What loads is valid, and its warnings can be said.
        assert!(config.validate().is_ok());
        let _ = config.warnings();
    }
});
