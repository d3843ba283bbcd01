//! Any bytes as a TaskRouter expression: parsing (within the input limits and the looser
//! limits a fold reads back with) and evaluating against a fixed worker and task never panic
//! nor overflow the stack, and what passes the input limits also parses as stored, to the
//! same answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use switchboard_events::taskrouter::expression::{Context, Expression};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let worker = json!({"languages": ["en", "es"], "level": 3, "name": "Ana",
                        "skills": {"billing": 5}, "active": true});
    let task = json!({"language": "es", "level": 2, "tier": "gold"});
    let counts = json!({"available": 0, "unavailable": 4});
    let ctx = Context::document(&worker)
        .with_root("worker", &worker)
        .with_root("task", &task)
        .with_root("workers", &counts);
    let stored = Expression::parse(&text);
    if let Ok(e) = Expression::parse_input(&text) {
        let answer = e.matches(&ctx);
        let again = stored.as_ref().map(|s| s.matches(&ctx));
        assert_eq!(again, Ok(answer), "input and stored parses disagree");
        let _ = e.reads_clock();
    }
    if let Ok(e) = stored {
        let _ = e.matches(&ctx);
    }
});
