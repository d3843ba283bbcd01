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

use chrono::{DateTime, Datelike, Timelike, Utc};
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
    Or(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
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

// ---------------------------------------------------------------------------------------
// Lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Num(f64),
    Word(String),
    Dot,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Cmp(Op),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Num(n) => write!(f, "number {n}"),
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Dot => f.write_str("`.`"),
            Tok::Comma => f.write_str("`,`"),
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
            Tok::LBracket => f.write_str("`[`"),
            Tok::RBracket => f.write_str("`]`"),
            Tok::Cmp(op) => write!(f, "`{op}`"),
        }
    }
}

fn error(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

fn lex(source: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(error(start, "string is not closed")),
                        Some('\\') => match chars.get(i + 1) {
                            Some(next) => {
                                s.push(*next);
                                i += 2;
                            }
                            None => return Err(error(i, "string ends in a lone backslash")),
                        },
                        Some(ch) if *ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
                continue;
            }
            '.' => out.push((start, Tok::Dot)),
            ',' => out.push((start, Tok::Comma)),
            '(' => out.push((start, Tok::LParen)),
            ')' => out.push((start, Tok::RParen)),
            '[' => out.push((start, Tok::LBracket)),
            ']' => out.push((start, Tok::RBracket)),
            '=' => {
                // `==`, or the single `=` older workflows use.
                if chars.get(i + 1) == Some(&'=') {
                    i += 1;
                }
                out.push((start, Tok::Cmp(Op::Eq)));
            }
            '!' => {
                if chars.get(i + 1) != Some(&'=') {
                    return Err(error(
                        start,
                        "`!` must be followed by `=` (there is no NOT operator)",
                    ));
                }
                i += 1;
                out.push((start, Tok::Cmp(Op::Ne)));
            }
            '>' | '<' => {
                let or_equal = chars.get(i + 1) == Some(&'=');
                if or_equal {
                    i += 1;
                }
                let op = match (c, or_equal) {
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    _ => Op::Le,
                };
                out.push((start, Tok::Cmp(op)));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                    j += 1;
                }
                let text: String = chars[i..j].iter().collect();
                let n: f64 = text
                    .parse()
                    .map_err(|_| error(start, format!("`{text}` is not a number")))?;
                out.push((start, Tok::Num(n)));
                i = j;
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if chars.get(j) == Some(&'-') {
                    return Err(error(
                        j,
                        "hyphens are not allowed in expressions (not even in keys)",
                    ));
                }
                out.push((start, Tok::Word(chars[i..j].iter().collect())));
                i = j;
                continue;
            }
            '-' => {
                return Err(error(
                    start,
                    "hyphens are not allowed in expressions (not even in keys)",
                ))
            }
            other => return Err(error(start, format!("unexpected character `{other}`"))),
        }
        i += 1;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Parsing

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

fn keyword(tok: Option<&Tok>, word: &str) -> bool {
    matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.toks.get(self.at + 1).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.toks.get(self.at).map(|(p, _)| *p).unwrap_or(self.end)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        t
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(t) => t.to_string(),
            None => "the end of the expression".to_string(),
        }
    }

    fn expr(&mut self) -> Result<Node, ParseError> {
        let mut left = self.and()?;
        while keyword(self.peek(), "OR") {
            self.next();
            let right = self.and()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, ParseError> {
        let mut left = self.compare()?;
        while keyword(self.peek(), "AND") {
            self.next();
            let right = self.compare()?;
            left = Node::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn compare(&mut self) -> Result<Node, ParseError> {
        if self.peek() == Some(&Tok::LParen) {
            let open = self.position();
            self.next();
            let inner = self.expr()?;
            if self.peek() != Some(&Tok::RParen) {
                return Err(error(
                    self.position(),
                    format!(
                        "expected `)` to close the `(` at character {open}, found {}",
                        self.found()
                    ),
                ));
            }
            self.next();
            return Ok(inner);
        }
        let left = self.operand()?;
        let op = self.operator()?;
        let right = self.operand()?;
        Ok(Node::Compare(left, op, right))
    }

    fn operator(&mut self) -> Result<Op, ParseError> {
        let position = self.position();
        let op = match self.peek() {
            Some(Tok::Cmp(op)) => *op,
            t if keyword(t, "CONTAINS") => Op::Contains,
            t if keyword(t, "HAS") => Op::Has,
            t if keyword(t, "IN") => Op::In,
            t if keyword(t, "NOT") => {
                if !keyword(self.peek2(), "IN") {
                    return Err(error(position, "NOT must be followed by IN (there is no NOT operator)"));
                }
                self.next();
                Op::NotIn
            }
            _ => {
                return Err(error(
                    position,
                    format!(
                        "expected an operator (==, !=, >, >=, <, <=, CONTAINS, HAS, IN, NOT IN), found {}",
                        self.found()
                    ),
                ))
            }
        };
        self.next();
        Ok(op)
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let position = self.position();
        match self.next() {
            Some(Tok::Str(s)) => Ok(Operand::Literal(Value::String(s))),
            Some(Tok::Num(n)) => Ok(Operand::Literal(number(n))),
            Some(Tok::LBracket) => {
                let mut items = Vec::new();
                if self.peek() == Some(&Tok::RBracket) {
                    self.next();
                    return Ok(Operand::Array(items));
                }
                loop {
                    items.push(self.operand()?);
                    match self.next() {
                        Some(Tok::Comma) => continue,
                        Some(Tok::RBracket) => return Ok(Operand::Array(items)),
                        _ => {
                            return Err(error(
                                self.toks
                                    .get(self.at - 1)
                                    .map(|(p, _)| *p)
                                    .unwrap_or(self.end),
                                format!(
                                "expected `,` or `]` in the list opened at character {position}"
                            ),
                            ))
                        }
                    }
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => {
                Ok(Operand::Literal(Value::Bool(true)))
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => {
                Ok(Operand::Literal(Value::Bool(false)))
            }
            Some(Tok::Word(w)) if is_keyword(&w) => Err(error(
                position,
                format!("expected a value or a key, found the keyword `{w}`"),
            )),
            Some(Tok::Word(w)) => {
                let mut path = vec![Segment::Field(w)];
                loop {
                    match self.peek() {
                        Some(Tok::Dot) => {
                            self.next();
                            let at = self.position();
                            match self.next() {
                                Some(Tok::Word(w)) => path.push(Segment::Field(w)),
                                _ => return Err(error(at, "expected a name after `.`")),
                            }
                        }
                        Some(Tok::LBracket) => {
                            self.next();
                            let at = self.position();
                            match self.next() {
                                Some(Tok::Num(n)) if n >= 0.0 && n.fract() == 0.0 => {
                                    path.push(Segment::Index(n as usize))
                                }
                                _ => {
                                    return Err(error(
                                        at,
                                        "expected a non-negative whole number index after `[`",
                                    ))
                                }
                            }
                            let at = self.position();
                            if self.next() != Some(Tok::RBracket) {
                                return Err(error(at, "expected `]` after the index"));
                            }
                        }
                        _ => return Ok(Operand::Key(path)),
                    }
                }
            }
            other => Err(error(
                position,
                format!(
                    "expected a value or a key, found {}",
                    other
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "the end of the expression".into())
                ),
            )),
        }
    }
}

fn is_keyword(w: &str) -> bool {
    ["AND", "OR", "CONTAINS", "HAS", "IN", "NOT"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

impl Expression {
    /// Parses an expression; the error says where and why.
    pub fn parse(source: &str) -> Result<Expression, ParseError> {
        let toks = lex(source)?;
        let end = source.chars().count();
        if toks.is_empty() {
            return Err(error(0, "the expression is empty"));
        }
        let mut parser = Parser { toks, at: 0, end };
        let root = parser.expr()?;
        if parser.at < parser.toks.len() {
            return Err(error(
                parser.position(),
                format!("expected AND, OR or the end, found {}", parser.found()),
            ));
        }
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
        eval(&self.root, context)
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
                Node::Or(a, b) | Node::And(a, b) => node(a) || node(b),
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

// ---------------------------------------------------------------------------------------
// Evaluation

/// What keys resolve against.
///
/// - `document`: attributes that unprefixed keys read (a worker's for `target_workers`, a
///   task's for a filter); `None` where every key must be prefixed (a target expression).
/// - `roots`: prefixed documents, e.g. `task`, `worker`, `workers` (for `skip_if`).
/// - `now`: the command's time, for `taskrouter.currentTime`, `currentHour`, `currentMin`,
///   `dayOfWeek` (UTC).
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// Unprefixed keys read this.
    pub document: Option<&'a Value>,
    /// Prefixed keys: `(prefix, document)`.
    pub roots: Vec<(&'a str, &'a Value)>,
    /// The time `taskrouter.*` describes.
    pub now: Option<DateTime<Utc>>,
}

impl<'a> Context<'a> {
    /// Unprefixed keys against one document.
    pub fn document(document: &'a Value) -> Context<'a> {
        Context {
            document: Some(document),
            ..Context::default()
        }
    }

    /// Adds a prefixed document.
    pub fn with_root(mut self, prefix: &'a str, document: &'a Value) -> Context<'a> {
        self.roots.push((prefix, document));
        self
    }

    /// Sets the time.
    pub fn at(mut self, now: DateTime<Utc>) -> Context<'a> {
        self.now = Some(now);
        self
    }

    fn resolve(&self, path: &[Segment]) -> Value {
        let Some(Segment::Field(first)) = path.first() else {
            return Value::Null;
        };
        if first == "taskrouter" {
            if let (Some(now), Some(Segment::Field(var))) = (self.now, path.get(1)) {
                return match var.as_str() {
                    "currentTime" => Value::from(now.hour() * 100 + now.minute()),
                    "currentHour" => Value::from(now.hour()),
                    "currentMin" => Value::from(now.minute()),
                    "dayOfWeek" => Value::from(now.weekday().to_string()),
                    _ => Value::Null,
                };
            }
        }
        if let Some((_, doc)) = self.roots.iter().find(|(p, _)| p == first) {
            return walk(doc, &path[1..]);
        }
        match self.document {
            Some(doc) => walk(doc, path),
            None => Value::Null,
        }
    }
}

fn walk(doc: &Value, path: &[Segment]) -> Value {
    let mut at = doc;
    for segment in path {
        let next = match (segment, at) {
            (Segment::Field(f), Value::Object(map)) => map.get(f),
            (Segment::Index(i), Value::Array(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return Value::Null,
        }
    }
    at.clone()
}

fn value(operand: &Operand, context: &Context<'_>) -> Value {
    match operand {
        Operand::Literal(v) => v.clone(),
        Operand::Array(items) => Value::Array(items.iter().map(|i| value(i, context)).collect()),
        Operand::Key(path) => context.resolve(path),
    }
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(_), _)
        | (_, Value::Array(_))
        | (Value::Object(_), _)
        | (_, Value::Object(_)) => false,
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

fn eval(node: &Node, context: &Context<'_>) -> bool {
    use std::cmp::Ordering::*;
    match node {
        Node::Or(a, b) => eval(a, context) || eval(b, context),
        Node::And(a, b) => eval(a, context) && eval(b, context),
        Node::Compare(l, op, r) => {
            let (l, r) = (value(l, context), value(r, context));
            match op {
                Op::Eq => is_scalar(&l) && is_scalar(&r) && scalar_eq(&l, &r),
                Op::Ne => is_scalar(&l) && is_scalar(&r) && !scalar_eq(&l, &r),
                Op::Gt => order(&l, &r) == Some(Greater),
                Op::Ge => matches!(order(&l, &r), Some(Greater | Equal)),
                Op::Lt => order(&l, &r) == Some(Less),
                Op::Le => matches!(order(&l, &r), Some(Less | Equal)),
                Op::Contains => match (&l, &r) {
                    (Value::String(a), Value::String(b)) => a.contains(b.as_str()),
                    _ => false,
                },
                Op::Has => match (&l, &r) {
                    (Value::Array(items), v) if is_scalar(v) => {
                        items.iter().any(|i| scalar_eq(i, v))
                    }
                    _ => false,
                },
                Op::In => match (&l, &r) {
                    (v, Value::Array(items)) if is_scalar(v) => {
                        items.iter().any(|i| scalar_eq(v, i))
                    }
                    _ => false,
                },
                Op::NotIn => match (&l, &r) {
                    (v, Value::Array(items)) if is_scalar(v) => {
                        !items.iter().any(|i| scalar_eq(v, i))
                    }
                    _ => false,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
