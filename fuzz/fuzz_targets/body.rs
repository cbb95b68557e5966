//! A webhook body as it streams in: the first byte picks the content-encoding and the
//! size of the pieces it arrives in; inflating must stop at the limit of output.
#![no_main]

use attentiond::http::{BodyError, Inflow};

const LIMIT: usize = 64 * 1024;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let encoding = ["gzip", "deflate", "identity", "x-gzip"][usize::from(first & 3)];
    let piece = usize::from(first >> 2) + 1;
    let mut inflow = match Inflow::new(Some(encoding), LIMIT) {
        Ok(inflow) => inflow,
        Err(error) => panic!("{encoding} is supported: {error}"),
    };
    for chunk in body.chunks(piece) {
        match inflow.push(chunk) {
            Ok(()) => {}
            Err(BodyError::TooLarge(limit)) => {
                assert_eq!(limit, LIMIT);
                return;
            }
            Err(_) => return,
        }
    }
    if let Ok(bytes) = inflow.finish() {
        assert!(bytes.len() <= LIMIT, "{} bytes came out", bytes.len());
        if encoding == "identity" {
            assert_eq!(bytes, body);
        }
    }
});
