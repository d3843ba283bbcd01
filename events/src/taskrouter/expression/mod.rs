//! The TaskRouter expression language: what `TaskQueue.target_workers`, a workflow filter's
//! `expression`, a target's `expression` and `skip_if` are written in.
//!
//! ```text
//! expr    := and ( OR and )*
//! and     := cmp ( AND cmp )*
//! cmp     := '(' expr ')' | operand op operand
//! op      := == | = | != | > | >= | < | <= | CONTAINS | HAS | IN | NOT IN
//! operand := 'string' | "string" | number | true | false | '[' operand (',' operand)* ']' | key
//! key     := name ( '.' name | '[' integer ']' )*
//! ```
//!
//! Keywords are case-insensitive (`and`, `in`, `not in` appear in integrators' workflows).
//! Semantics, following Twilio's documentation:
//! - a key that is not there is NULL; NULL equals only NULL, and orders against nothing;
//! - scalar operators on an array, and array operators on two scalars, are false;
//! - `CONTAINS` is a substring test; `HAS` is "the left array holds the right value"; `IN`
//!   and `NOT IN` ask whether the left value is in the right array;
//! - numbers compare as numbers (`1 == 1.0`), strings by their characters.
//!
//! Evaluation never reads a clock: `taskrouter.currentTime` and friends come from the time
//! in the [`Context`], which comes from the command.
//!
//! This file holds the tree ([`Expression`]) and its tests; the text goes through `lex.rs`
//! (characters into tokens), `parse.rs` (tokens into the tree) and `eval.rs` (the tree
//! against a [`Context`]). `limits.rs` bounds the text, the nesting and the number of
//! comparisons, so the tree is never deeper than the nesting: `AND` and `OR` chains are flat
//! lists, and nothing recurses without bound (parsing, evaluating, dropping).

mod eval;
mod lex;
mod limits;
mod parse;

pub use eval::Context;
pub use limits::{Limits, MAX_DEPTH, MAX_LENGTH, MAX_STORED_DEPTH, MAX_TERMS};

use serde_json::Value;
use std::fmt;

/// A parsed expression, ready to evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: String,
    root: Node,
}

/// Why an expression does not parse: where (a character offset from 0) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expression error at character {position}: {message}")]
pub struct ParseError {
    /// Character offset in the expression.
    pub position: usize,
    /// What was wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Two or more alternatives (a chain is one flat list, never a deep tree).
    Or(Vec<Node>),
    /// Two or more conditions that must all hold.
    And(Vec<Node>),
    Compare(Operand, Op, Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Value),
    Array(Vec<Operand>),
    Key(Vec<Segment>),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
    Has,
    In,
    NotIn,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Contains => "CONTAINS",
            Op::Has => "HAS",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
        })
    }
}

fn error(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

impl Expression {
    /// Parses an expression read back from the log (a fold): [`Limits::STORED`], so what an
    /// older build accepted still parses, and nesting stays bounded. The error says where and
    /// why.
    pub fn parse(source: &str) -> Result<Expression, ParseError> {
        Expression::parse_with(source, Limits::STORED)
    }

    /// Parses an expression a request gives (to store, or to filter a list by):
    /// [`Limits::INPUT`], refused with a message naming the limit it passes.
    pub fn parse_input(source: &str) -> Result<Expression, ParseError> {
        Expression::parse_with(source, Limits::INPUT)
    }

    /// Parses within `limits`; the length is checked before anything is read.
    pub fn parse_with(source: &str, limits: Limits) -> Result<Expression, ParseError> {
        if source.len() > limits.length {
            return Err(error(
                0,
                format!(
                    "the expression is {} bytes, over the limit of {} bytes",
                    source.len(),
                    limits.length
                ),
            ));
        }
        let toks = lex::lex(source)?;
        let end = source.chars().count();
        let root = parse::parse(toks, end, limits)?;
        Ok(Expression {
            source: source.to_string(),
            root,
        })
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against a context.
    pub fn matches(&self, context: &Context<'_>) -> bool {
        eval::eval(&self.root, context)
    }

    /// Whether it reads the time (`taskrouter.currentTime` and friends): only then can the
    /// same document match at one moment and not at another.
    pub fn reads_clock(&self) -> bool {
        fn operand(o: &Operand) -> bool {
            match o {
                Operand::Literal(_) => false,
                Operand::Array(items) => items.iter().any(operand),
                Operand::Key(path) => {
                    matches!(path.first(), Some(Segment::Field(f)) if f == "taskrouter")
                }
            }
        }
        fn node(n: &Node) -> bool {
            match n {
                Node::Or(items) | Node::And(items) => items.iter().any(node),
                Node::Compare(a, _, b) => operand(a) || operand(b),
            }
        }
        node(&self.root)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use serde_json::json;

    fn check(expr: &str, doc: Value) -> bool {
        Expression::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .matches(&Context::document(&doc))
    }

    #[test]
    fn constants_and_the_catch_all() {
        assert!(check("1==1", json!({})));
        assert!(check("1 == 1.0", json!({})));
        assert!(!check("1 == 2", json!({})));
        assert!(check("'a' == \"a\"", json!({})));
        assert!(check("true == TRUE", json!({})));
        assert!(check("-3 < 2", json!({})));
    }

    #[test]
    fn keys_walk_dotted_paths_and_indices_and_missing_keys_are_null() {
        let doc = json!({"customer": {"tier": "gold", "langs": ["en", "es"], "age": 41}});
        assert!(check("customer.tier == 'gold'", doc.clone()));
        assert!(check("customer.langs[1] == 'es'", doc.clone()));
        assert!(check(
            "customer.age >= 41 AND customer.age < 42",
            doc.clone()
        ));
        assert!(!check("customer.missing == 'x'", doc.clone()));
        assert!(check("customer.missing != 'x'", doc.clone()));
        assert!(check("customer.missing == other.missing", doc.clone()));
        assert!(!check("customer.missing > 1", doc.clone()));
        assert!(!check("customer.langs[5] == 'en'", doc));
    }

    #[test]
    fn array_operators_and_their_scalar_misuse() {
        let doc = json!({"skills": ["billing", "sales"], "language": "fr", "n": 3});
        assert!(check("skills HAS 'sales'", doc.clone()));
        assert!(!check("skills HAS 'support'", doc.clone()));
        assert!(check("language IN ['en', 'fr']", doc.clone()));
        assert!(check("language not in ['en', 'de']", doc.clone()));
        assert!(check("n in [1, 2, 3]", doc.clone()));
        // Scalar operators on arrays, and array operators on two scalars, are false.
        assert!(!check("skills == 'sales'", doc.clone()));
        assert!(!check("skills != 'sales'", doc.clone()));
        assert!(!check("language HAS 'fr'", doc.clone()));
        assert!(!check("language IN 'fr'", doc.clone()));
        assert!(!check("language NOT IN 'fr'", doc));
    }

    #[test]
    fn contains_is_a_substring_test() {
        let doc = json!({"email": "ana@example.com"});
        assert!(check("email CONTAINS 'example'", doc.clone()));
        assert!(!check("email contains 'other'", doc));
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let doc = json!({"a": 1, "b": 2, "c": 3});
        assert!(check("a == 1 OR b == 9 AND c == 9", doc.clone()));
        assert!(!check("(a == 1 OR b == 9) AND c == 9", doc.clone()));
        assert!(check("((a == 1)) and (b == 2 or c == 0)", doc));
    }

    #[test]
    fn target_expressions_read_task_and_worker_by_prefix() {
        let task = json!({"required_language": "es", "level": 2});
        let worker =
            json!({"spoken_languages": ["en", "es"], "level": 3, "activity_name": "Available"});
        let e = Expression::parse(
            "task.required_language IN worker.spoken_languages AND worker.level > task.level",
        )
        .expect("parses");
        let ctx = Context::default()
            .with_root("task", &task)
            .with_root("worker", &worker);
        assert!(e.matches(&ctx));
        // Unprefixed keys read nothing in a target expression.
        let e = Expression::parse("level == 3").expect("parses");
        assert!(!e.matches(&ctx));
    }

    #[test]
    fn skip_if_reads_worker_counts() {
        let counts = json!({"available": 0, "unavailable": 4});
        let e = Expression::parse("workers.available == 0").expect("parses");
        assert!(e.matches(&Context::default().with_root("workers", &counts)));
    }

    #[test]
    fn time_of_day_variables_come_from_the_context_time() {
        // 2026-11-25 was a Wednesday.
        let now = DateTime::parse_from_rfc3339("2026-11-25T17:05:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let doc = json!({});
        let ctx = Context::document(&doc).at(now);
        for (expr, want) in [
            ("taskrouter.currentTime == 1705", true),
            (
                "taskrouter.currentHour >= 9 AND taskrouter.currentHour < 17",
                false,
            ),
            ("taskrouter.currentMin == 5", true),
            (
                "taskrouter.dayOfWeek IN ['Mon', 'Tue', 'Wed', 'Thu', 'Fri']",
                true,
            ),
        ] {
            assert_eq!(
                Expression::parse(expr).expect("parses").matches(&ctx),
                want,
                "{expr}"
            );
        }
    }

    #[test]
    fn parse_errors_say_where_and_why() {
        for (expr, at, says) in [
            ("", 0, "empty"),
            ("a ==", 4, "expected a value or a key"),
            ("a b", 2, "expected an operator"),
            ("a == 'x", 5, "not closed"),
            ("(a == 1", 7, "expected `)`"),
            ("a == 1 b == 2", 7, "expected AND, OR"),
            ("my-key == 1", 2, "hyphens"),
            ("a NOT 'x'", 2, "NOT must be followed by IN"),
            ("a IN [1, 2", 10, "expected `,` or `]`"),
            ("a[x] == 1", 2, "index"),
            ("a == 1 AND", 10, "expected a value or a key"),
            ("a ! b", 2, "`!` must be followed by `=`"),
            ("a == @", 5, "unexpected character"),
            ("AND == 1", 0, "keyword"),
        ] {
            let err = Expression::parse(expr).expect_err(expr);
            assert_eq!(err.position, at, "{expr}: {err}");
            assert!(err.message.contains(says), "{expr}: {err}");
        }
    }

    fn nested(depth: usize) -> String {
        format!("{}a == 1{}", "(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn input_limits_refuse_long_deep_and_wide_expressions_naming_the_limit() {
        let long = format!("a == '{}'", "x".repeat(MAX_LENGTH));
        let deep_list = format!("a IN {}1{}", "[".repeat(40), "]".repeat(40));
        let wide = vec!["a == 1"; MAX_TERMS + 1].join(" OR ");
        let wide_and = vec!["a == 1"; MAX_TERMS + 1].join(" AND ");
        for (expr, says) in [
            (long.as_str(), "limit of 65536 bytes"),
            (&nested(MAX_DEPTH + 1), "limit of 32 levels"),
            (&deep_list, "limit of 32 levels"),
            (&wide, "limit of 1000"),
            (&wide_and, "limit of 1000"),
        ] {
            let err = Expression::parse_input(expr).expect_err("refused");
            assert!(err.message.contains(says), "{err}");
        }
        // Right at each limit is fine.
        let doc = json!({"a": 1});
        for expr in [
            nested(MAX_DEPTH),
            vec!["a == 1"; MAX_TERMS].join(" OR "),
            format!("a == '{}'", "x".repeat(MAX_LENGTH - 7)),
        ] {
            let e = Expression::parse_input(&expr).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(e.matches(&Context::document(&doc)), !expr.contains('x'));
        }
    }

    #[test]
    fn hostile_expressions_never_overflow_the_stack_parsing_evaluating_or_dropping() {
        // On a small stack of its own, so a recursion that grows with the input would show.
        let run = || {
            let doc = json!({"a": 1});
            for expr in [
                nested(100_000),
                vec!["a == 1"; 100_000].join(" OR "),
                vec!["a == 2"; 100_000].join(" AND "),
                format!("a IN {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            ] {
                assert!(Expression::parse_input(&expr).is_err());
                // Read back from the log: wide chains parse (they are flat), deep ones not.
                if let Ok(e) = Expression::parse(&expr) {
                    assert_eq!(e.matches(&Context::document(&doc)), expr.contains("OR"));
                    drop(e);
                }
            }
            assert!(Expression::parse(&nested(MAX_STORED_DEPTH)).is_ok());
            assert!(Expression::parse(&nested(MAX_STORED_DEPTH + 1)).is_err());
        };
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(run)
            .expect("thread")
            .join()
            .expect("no overflow, no panic");
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,60}") {
            let _ = Expression::parse(&s);
        }

        #[test]
        fn numbers_compare_like_numbers(a in -1000i64..1000, b in -1000i64..1000) {
            let doc = json!({"a": a, "b": b});
            let check = |op: &str| Expression::parse(&format!("a {op} b")).map(|e| e.matches(&Context::document(&doc)));
            prop_assert_eq!(check("<"), Ok(a < b));
            prop_assert_eq!(check("<="), Ok(a <= b));
            prop_assert_eq!(check(">"), Ok(a > b));
            prop_assert_eq!(check(">="), Ok(a >= b));
            prop_assert_eq!(check("=="), Ok(a == b));
            prop_assert_eq!(check("!="), Ok(a != b));
        }
    }
}
