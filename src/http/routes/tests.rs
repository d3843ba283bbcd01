//! The route table against the routers' source: every `.route("path", method_router)` under
//! `src/http/` is read, with the methods its method router chains (`get(…).post(…)`), and
//! the two sets must be equal.

use super::ROUTES;
use std::collections::BTreeSet;
use std::path::Path;

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of a call's arguments: from just after its `(` to its matching `)`.
fn arguments(text: &str) -> &str {
    let mut depth = 1usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    text
}

/// The methods a method-router expression chains at its top level (`get(a).post(b)`:
/// GET and POST; a handler's own arguments are not looked into).
fn methods(expr: &str) -> Vec<String> {
    const NAMES: [&str; 5] = ["get", "post", "put", "patch", "delete"];
    let mut found = Vec::new();
    let mut depth = 0usize;
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => {
                let starts_word =
                    i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
                if let Some(name) = NAMES
                    .iter()
                    .find(|n| starts_word && bytes[i..].starts_with(format!("{n}(").as_bytes()))
                {
                    found.push(name.to_uppercase());
                    i += name.len();
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Every `(METHOD, path)` the routers under `src/http/` declare.
fn declared() -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let args = arguments(rest);
            let Some((path, router)) = args
                .trim_start()
                .strip_prefix('"')
                .and_then(|a| a.split_once('"'))
            else {
                continue;
            };
            for m in methods(router.trim_start_matches([',', ' ', '\n'])) {
                routes.insert((m, path.to_string()));
            }
        }
    }
    routes
}

#[test]
fn the_route_table_lists_exactly_what_the_routers_declare() {
    let declared = declared();
    assert!(
        declared.len() > 50,
        "the scan found too little: {declared:?}"
    );
    let listed: BTreeSet<(String, String)> = super::all()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let unlisted: Vec<_> = declared.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&declared).collect();
    assert!(
        unlisted.is_empty(),
        "routes served but missing from src/http/routes.rs ROUTES (add them there, and a fixture in tests/it/tenancy.rs): {unlisted:?}"
    );
    assert!(
        stale.is_empty(),
        "routes in ROUTES that no router declares: {stale:?}"
    );
    assert_eq!(
        ROUTES.len(),
        ROUTES.iter().map(|(p, _)| p).collect::<BTreeSet<_>>().len(),
        "a path is listed twice"
    );
}

#[test]
fn the_scan_reads_methods_at_the_top_of_the_method_router_only() {
    assert_eq!(
        methods("get(fetch::<Workers>)\n.post(update::<Workers>)\n.delete(delete::<Workers>)"),
        ["GET", "POST", "DELETE"]
    );
    assert_eq!(methods("get(no_such).post(bulk)"), ["GET", "POST"]);
    assert_eq!(methods("get(forget(x))"), ["GET"]);
}
