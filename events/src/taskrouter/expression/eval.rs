//! The evaluator: an expression tree against a [`Context`]. Evaluation is total (a key that
//! is not there is NULL, a type mismatch is false) and reads no clock: `taskrouter.*`
//! variables come from the context's time, which comes from the command. It recurses only
//! as deep as the parser let the tree nest (see `limits.rs`).

use super::{Node, Op, Operand, Segment};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;

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

pub(super) fn eval(node: &Node, context: &Context<'_>) -> bool {
    use std::cmp::Ordering::*;
    match node {
        Node::Or(items) => items.iter().any(|n| eval(n, context)),
        Node::And(items) => items.iter().all(|n| eval(n, context)),
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
