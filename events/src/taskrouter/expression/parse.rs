//! The parser: tokens into the expression tree, by recursive descent over the grammar in
//! the [module doc](super): `OR` binds loosest, then `AND`, then one comparison. Every error
//! names the character it is at and what was expected there, since integrators debug their
//! workflows from these messages alone.
//!
//! The [`Limits`] are enforced here, while reading: the nesting before a level is entered
//! (so the recursion is never deeper than the limit) and the comparisons as each is read.
//! `AND` and `OR` chains come out as flat lists, so a long chain is a wide node, not a deep
//! tree.

use super::lex::Tok;
use super::{error, Limits, Node, Op, Operand, ParseError, Segment};
use serde_json::Value;

/// The tree of a whole expression: refused when empty or when tokens are left after it.
/// `end` is the source's length in characters (where "the end" is in an error).
pub(super) fn parse(
    toks: Vec<(usize, Tok)>,
    end: usize,
    limits: Limits,
) -> Result<Node, ParseError> {
    if toks.is_empty() {
        return Err(error(0, "the expression is empty"));
    }
    let mut parser = Parser {
        toks,
        at: 0,
        end,
        limits,
        depth: 0,
        terms: 0,
    };
    let root = parser.expr()?;
    if parser.at < parser.toks.len() {
        return Err(error(
            parser.position(),
            format!("expected AND, OR or the end, found {}", parser.found()),
        ));
    }
    Ok(root)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    limits: Limits,
    /// Parentheses and brackets open around the current token.
    depth: usize,
    /// Comparisons read so far.
    terms: usize,
}

/// One node, or the flat list `wrap` makes of two or more.
fn chain(mut items: Vec<Node>, wrap: fn(Vec<Node>) -> Node) -> Node {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    wrap(items)
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

    /// Enters a `(` or `[` at `at`, refused past the nesting limit.
    fn enter(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.depth {
            return Err(error(
                at,
                format!(
                    "parentheses and brackets nest deeper than the limit of {} levels",
                    self.limits.depth
                ),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, ParseError> {
        let mut items = vec![self.and()?];
        while keyword(self.peek(), "OR") {
            self.next();
            items.push(self.and()?);
        }
        Ok(chain(items, Node::Or))
    }

    fn and(&mut self) -> Result<Node, ParseError> {
        let mut items = vec![self.compare()?];
        while keyword(self.peek(), "AND") {
            self.next();
            items.push(self.compare()?);
        }
        Ok(chain(items, Node::And))
    }

    fn compare(&mut self) -> Result<Node, ParseError> {
        if self.peek() == Some(&Tok::LParen) {
            let open = self.position();
            self.enter(open)?;
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
            self.depth -= 1;
            return Ok(inner);
        }
        let start = self.position();
        self.terms += 1;
        if self.terms > self.limits.terms {
            return Err(error(
                start,
                format!("more comparisons than the limit of {}", self.limits.terms),
            ));
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
            Some(Tok::LBracket) => self.list(position),
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
            Some(Tok::Word(w)) => self.key(w),
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

    /// The rest of a list whose `[` was at `position` (already taken).
    fn list(&mut self, position: usize) -> Result<Operand, ParseError> {
        self.enter(position)?;
        let mut items = Vec::new();
        if self.peek() == Some(&Tok::RBracket) {
            self.next();
            self.depth -= 1;
            return Ok(Operand::Array(items));
        }
        loop {
            items.push(self.operand()?);
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RBracket) => {
                    self.depth -= 1;
                    return Ok(Operand::Array(items));
                }
                _ => {
                    return Err(error(
                        self.toks
                            .get(self.at - 1)
                            .map(|(p, _)| *p)
                            .unwrap_or(self.end),
                        format!("expected `,` or `]` in the list opened at character {position}"),
                    ))
                }
            }
        }
    }

    /// The rest of a key whose first name `first` was already taken: `.name` and `[index]`
    /// segments.
    fn key(&mut self, first: String) -> Result<Operand, ParseError> {
        let mut path = vec![Segment::Field(first)];
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
