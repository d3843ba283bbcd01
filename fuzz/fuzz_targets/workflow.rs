//! Any bytes as a workflow configuration, as a create checks it: compiling (JSON within
//! serde_json's nesting limit, every expression parsed, every queue SID read) and holding each
//! expression to the input limits never panic; a compiled document serves back as JSON that
//! compiles again to the same workflow, and routing a fixed task through it is total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use switchboard_events::taskrouter::expression::{Context, Expression};
use switchboard_events::taskrouter::workflow::Workflow;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(workflow) = Workflow::compile(&text) else {
        return;
    };
    let routing = &workflow.document.task_routing;
    let targets = routing
        .filters
        .iter()
        .flat_map(|f| f.targets.iter())
        .chain(routing.default_filter.iter());
    for t in targets {
        for e in [&t.expression, &t.skip_if].into_iter().flatten() {
            let _ = Expression::parse_input(e);
        }
    }
    for f in &routing.filters {
        let _ = Expression::parse_input(&f.expression);
    }
    let served = serde_json::to_string(&workflow.document).expect("a document serialises");
    let again = Workflow::compile(&served).expect("a served document compiles again");
    assert_eq!(again.filters, workflow.filters);
    let task = json!({"language": "es", "level": 2, "tier": "gold"});
    let ctx = Context::document(&task);
    for f in &workflow.filters {
        let _ = f.expression.matches(&ctx);
    }
    let _ = workflow.queues();
});
