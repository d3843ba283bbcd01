//! The lexer: expression text into tokens, each with the character offset it starts at, so
//! every parse error can say where. Strings take `'…'` or `"…"` with backslash escapes.
//! Outside a string a hyphen is a minus sign before a digit and refused anywhere else (the
//! language has no subtraction and no hyphenated keys), rather than silently splitting a key.

use super::{error, Op, ParseError};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

const NO_HYPHENS: &str = "hyphens are not allowed in expressions (not even in keys)";

/// The tokens of `source`, each with its starting character offset.
pub(super) fn lex(source: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let (tok, next) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '\'' | '"' => string(&chars, start)?,
            '.' => (Tok::Dot, start + 1),
            ',' => (Tok::Comma, start + 1),
            '(' => (Tok::LParen, start + 1),
            ')' => (Tok::RParen, start + 1),
            '[' => (Tok::LBracket, start + 1),
            ']' => (Tok::RBracket, start + 1),
            '=' | '!' | '>' | '<' => comparison(&chars, start)?,
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                number(&chars, start)?
            }
            c if c.is_alphabetic() || c == '_' => word(&chars, start)?,
            '-' => return Err(error(start, NO_HYPHENS)),
            other => return Err(error(start, format!("unexpected character `{other}`"))),
        };
        out.push((start, tok));
        i = next;
    }
    Ok(out)
}

/// The string opened by the quote at `start`, and the offset after its closing quote.
fn string(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
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
            Some(ch) if *ch == quote => return Ok((Tok::Str(s), i + 1)),
            Some(ch) => {
                s.push(*ch);
                i += 1;
            }
        }
    }
}

/// The comparison operator at `start` (`==`, or the single `=` older workflows use; `!=`,
/// `>`, `>=`, `<`, `<=`), and the offset after it.
fn comparison(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let c = chars[start];
    let or_equal = chars.get(start + 1) == Some(&'=');
    let op = match (c, or_equal) {
        ('=', _) => Op::Eq,
        ('!', true) => Op::Ne,
        ('!', false) => {
            return Err(error(
                start,
                "`!` must be followed by `=` (there is no NOT operator)",
            ))
        }
        ('>', false) => Op::Gt,
        ('>', true) => Op::Ge,
        ('<', false) => Op::Lt,
        _ => Op::Le,
    };
    let len = if or_equal { 2 } else { 1 };
    Ok((Tok::Cmp(op), start + len))
}

/// The number (digits and dots, maybe a leading minus) at `start`, and the offset after it.
fn number(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let mut j = start + 1;
    while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
        j += 1;
    }
    let text: String = chars[start..j].iter().collect();
    let n: f64 = text
        .parse()
        .map_err(|_| error(start, format!("`{text}` is not a number")))?;
    Ok((Tok::Num(n), j))
}

/// The word (a key segment or a keyword) at `start`, and the offset after it.
fn word(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let mut j = start + 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    if chars.get(j) == Some(&'-') {
        return Err(error(j, NO_HYPHENS));
    }
    Ok((Tok::Word(chars[start..j].iter().collect()), j))
}
