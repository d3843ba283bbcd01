//! Any bytes as request parameters, a form-encoded text (query string or body) or a JSON
//! body: parsing never panics, never yields more than the parameter limit, and a form that
//! parses encodes back to the same pairs.
#![no_main]

#[path = "../../src/http/twilio/form.rs"]
#[allow(dead_code)]
mod form;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = form::form_pairs(data, "request body") {
        assert!(pairs.len() <= form::MAX_PARAMS);
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let back = form::form_pairs(encoded.as_bytes(), "request body").expect("re-encoded");
        assert_eq!(back, pairs);
    }
    if let Ok(pairs) = form::json_pairs(data) {
        assert!(pairs.len() <= form::MAX_PARAMS);
    }
});
