//! Any bytes as a TwiML document, as the call router receives it: parsing never panics nor
//! recurses, fails only with 12100 or 12102 and warns only with 12200; a parsed program, run
//! with `Done` after every action (and `Answered` after an answer), reaches its end within
//! 2n + 1 steps for n verbs, with and without a document URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_events::twiml::{parse, step, Action, Context, Cursor, Input, Phase};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = match parse(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(e.code == 12100 || e.code == 12102, "{e:?}");
            return;
        }
    };
    assert!(parsed.warnings.iter().all(|w| w.code == 12200));
    let program = &parsed.program;
    for document_url in [Some("https://app.example.com/voice/doc.xml"), None] {
        let mut answered = false;
        let mut s = step(program, Cursor::START, Input::Begin, &Context { document_url, answered });
        let mut steps = 1;
        while s.next.phase != Phase::Finished {
            let input = if s.action == Action::Answer {
                answered = true;
                Input::Answered
            } else {
                Input::Done
            };
            s = step(program, s.next, input, &Context { document_url, answered });
            steps += 1;
            assert!(steps <= 2 * program.verbs.len() + 1, "no end after {steps} steps");
        }
    }
});
