//! The SCIM filter parser: a tokenizer, then recursive descent over RFC 7644's grammar
//! (Figure 1 in §3.4.2.2; PATCH paths in §3.5.2):
//!
//! ```text
//! filter    = or
//! or        = and *("or" and)
//! and       = unary *("and" unary)
//! unary     = "(" filter ")" / "not" "(" filter ")" / attrPath "[" valFilter "]"
//!           / attrPath "pr" / attrPath compareOp compValue
//! valFilter = like filter, without a nested "[ ]"
//! attrPath  = [URN ":"] ATTRNAME ["." ATTRNAME]
//! ATTRNAME  = ALPHA *("-" / "_" / DIGIT / ALPHA) / "$ref"
//! compValue = "false" / "null" / "true" / JSON number / JSON string
//! path      = attrPath / attrPath "[" valFilter "]" ["." ATTRNAME]     (PATCH)
//! ```
//!
//! Keywords, operators and literals are case-insensitive. Only parentheses, `not (` and
//! `[ ]` recurse, and they are limited to [`MAX_DEPTH`]; `and`/`or` chains are loops. So no
//! input, however long or nested, can overflow the stack.

use serde_json::Number;

use crate::error::quoted;

use super::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};

/// Longest filter accepted, in bytes. Identity providers send filters of a few dozen bytes;
/// the limit keeps a hostile one from costing more than a moment.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of `( )`, `not ( )` and `[ ]` accepted.
pub const MAX_DEPTH: usize = 32;

/// The SCIM error type every refusal here maps to (RFC 7644 §3.12).
pub const INVALID_FILTER: &str = "invalidFilter";

/// A filter or path that cannot be parsed or evaluated. Answered as HTTP 400 with
/// `scimType` [`INVALID_FILTER`] and the message as `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct FilterError {
    /// Byte offset in the filter where the problem was found; `None` for a problem found
    /// while evaluating (the tree carries no positions).
    pub position: Option<usize>,
    /// What was wrong, naming the position (as a 1-based character number) and what was
    /// expected.
    pub detail: String,
}

impl FilterError {
    /// Always `invalidFilter`.
    pub fn scim_type(&self) -> &'static str {
        INVALID_FILTER
    }

    fn at(input: &str, offset: usize, what: impl std::fmt::Display) -> FilterError {
        // Characters, not bytes, for the person reading the message.
        let column = input
            .get(..offset)
            .map_or(offset, |before| before.chars().count())
            + 1;
        FilterError {
            position: Some(offset),
            detail: format!("invalid filter at character {column}: {what}"),
        }
    }

    pub(crate) fn eval(what: impl std::fmt::Display) -> FilterError {
        FilterError {
            position: None,
            detail: format!("invalid filter: {what}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(Number),
    LParen,
    RParen,
    LBracket,
    RBracket,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte offsets of the token's start and end.
    at: usize,
    end: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
}

/// serde_json ends its messages with " at line 1 column N"; the caller names the place.
fn serde_message(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message.get(..cut).unwrap_or(&message).to_owned(),
        None => message,
    }
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(tok) = single {
            chars.next();
            tokens.push(Token {
                tok,
                at,
                end: at + 1,
            });
            continue;
        }
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            // Find the closing quote, skipping escaped characters; serde_json then reads the
            // JSON string, escapes and all.
            chars.next();
            let mut escaped = false;
            let mut close = None;
            for (i, c) in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    close = Some(i);
                    break;
                }
            }
            let Some(close) = close else {
                return Err(FilterError::at(
                    input,
                    at,
                    "unterminated string: expected a closing '\"'",
                ));
            };
            let end = close + 1;
            let raw = input.get(at..end).unwrap_or_default();
            let text: String = serde_json::from_str(raw).map_err(|e| {
                FilterError::at(
                    input,
                    at,
                    format_args!("invalid string {}: {}", quoted(raw), serde_message(&e)),
                )
            })?;
            tokens.push(Token {
                tok: Tok::Str(text),
                at,
                end,
            });
            continue;
        }
        let number = c == '-' || c.is_ascii_digit();
        if number || c.is_ascii_alphabetic() || c == '$' || c == '.' {
            let mut end = at;
            while let Some(&(i, c)) = chars.peek() {
                // A number takes the word characters stuck to it, so `12abc` is one bad number.
                if !(is_word_char(c) || (number && c == '+')) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            let raw = input.get(at..end).unwrap_or_default();
            let tok = if number {
                Tok::Num(number_value(raw).map_err(|why| {
                    FilterError::at(
                        input,
                        at,
                        format_args!("invalid number {}: {why}", quoted(raw)),
                    )
                })?)
            } else {
                Tok::Word(raw.to_owned())
            };
            tokens.push(Token { tok, at, end });
            continue;
        }
        return Err(FilterError::at(
            input,
            at,
            format_args!(
                "unexpected character {c:?}: expected an attribute name, an operator, a value, \
                 '(', ')', '[' or ']'"
            ),
        ));
    }
    tokens.push(Token {
        tok: Tok::End,
        at: input.len(),
        end: input.len(),
    });
    Ok(tokens)
}

/// A JSON number (RFC 8259 §6). Integers that fit stay exact; others are read by Rust's
/// correctly rounded `f64` parser, so a printed float reads back as the same float
/// (serde_json's default parser may be one ulp off).
fn number_value(raw: &str) -> Result<Number, &'static str> {
    let bytes = raw.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let int_len = digits(&mut i);
    if int_len == 0 {
        return Err("expected a digit");
    }
    if int_len > 1 && bytes.get(int_start) == Some(&b'0') {
        return Err("a number cannot start with 0");
    }
    let mut integer = true;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        integer = false;
        if digits(&mut i) == 0 {
            return Err("expected a digit after '.'");
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        integer = false;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return Err("expected a digit in the exponent");
        }
    }
    if i != bytes.len() {
        return Err("not a JSON number");
    }
    if integer {
        if let Ok(n) = raw.parse::<u64>() {
            return Ok(n.into());
        }
        if let Ok(n) = raw.parse::<i64>() {
            return Ok(n.into());
        }
    }
    raw.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or("out of range")
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => quoted(w).to_string(),
        Tok::Str(s) => format!(
            "the string {}",
            quoted(&serde_json::to_string(s).unwrap_or_default())
        ),
        Tok::Num(n) => format!("the number {n}"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::End => "the end of the filter".into(),
    }
}

fn is_keyword(tok: &Tok, keyword: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
}

/// `ALPHA *(nameChar)`, or `$ref` (RFC 7643 §2.3.7 names references' sub-attribute so).
fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        _ => name.eq_ignore_ascii_case("$ref"),
    }
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
    end: Token,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Result<Self, FilterError> {
        if input.len() > MAX_LEN {
            return Err(FilterError::at(
                input,
                MAX_LEN,
                format_args!(
                    "the filter is {} bytes long; at most {MAX_LEN} are accepted",
                    input.len()
                ),
            ));
        }
        let tokens = lex(input)?;
        Ok(Parser {
            input,
            tokens,
            next: 0,
            depth: 0,
            end: Token {
                tok: Tok::End,
                at: input.len(),
                end: input.len(),
            },
        })
    }

    fn peek(&self) -> &Token {
        self.tokens.get(self.next).unwrap_or(&self.end)
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.next < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn error(&self, token: &Token, expected: impl std::fmt::Display) -> FilterError {
        FilterError::at(
            self.input,
            token.at,
            format_args!("expected {expected}, found {}", describe(&token.tok)),
        )
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> Result<Token, FilterError> {
        let token = self.bump();
        if token.tok == tok {
            Ok(token)
        } else {
            Err(self.error(&token, expected))
        }
    }

    fn enter(&mut self, token: &Token) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::at(
                self.input,
                token.at,
                format_args!("nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn or(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let mut left = self.and(in_value)?;
        while is_keyword(&self.peek().tok, "or") {
            self.bump();
            let right = self.and(in_value)?;
            left = left.or(right);
        }
        Ok(left)
    }

    fn and(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(in_value)?;
        while is_keyword(&self.peek().tok, "and") {
            self.bump();
            let right = self.unary(in_value)?;
            left = left.and(right);
        }
        Ok(left)
    }

    /// `( filter )`, after its `(` was read.
    fn group(&mut self, open: &Token, in_value: bool) -> Result<Filter, FilterError> {
        self.enter(open)?;
        let inner = self.or(in_value)?;
        self.expect(Tok::RParen, "'and', 'or' or ')'")?;
        self.depth -= 1;
        Ok(inner)
    }

    fn unary(&mut self, in_value: bool) -> Result<Filter, FilterError> {
        let token = self.bump();
        match &token.tok {
            Tok::LParen => self.group(&token, in_value),
            // `not` is a keyword only before `(`; elsewhere it may name an attribute.
            Tok::Word(w) if w.eq_ignore_ascii_case("not") && self.peek().tok == Tok::LParen => {
                let open = self.bump();
                Ok(self.group(&open, in_value)?.not())
            }
            Tok::Word(w) => {
                let path = self.attr_path(w, &token)?;
                self.after_path(path, &token, in_value)
            }
            _ => Err(self.error(&token, "an attribute path, '(' or 'not ('")),
        }
    }

    /// What follows an attribute path in a filter: `[valFilter]`, `pr`, or `op value`.
    fn after_path(
        &mut self,
        path: AttrPath,
        path_token: &Token,
        in_value: bool,
    ) -> Result<Filter, FilterError> {
        let token = self.bump();
        let keyword = match &token.tok {
            Tok::LBracket => {
                let filter = self.value_filter(&path, path_token, &token, in_value)?;
                return Ok(Filter::value_path(path, filter));
            }
            Tok::Word(w) => w.clone(),
            _ => {
                return Err(self.error(
                    &token,
                    format_args!(
                        "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) or '[' after {}",
                        quoted(&path.to_string())
                    ),
                ));
            }
        };
        if keyword.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(&keyword) else {
            return Err(self.error(
                &token,
                format_args!(
                    "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after {}",
                    quoted(&path.to_string())
                ),
            ));
        };
        let value_token = self.bump();
        let value = match &value_token.tok {
            Tok::Str(s) => CompValue::String(s.clone()),
            Tok::Num(n) => CompValue::Number(n.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            Tok::Word(_) => {
                return Err(self.error(
                    &value_token,
                    format_args!(
                        "a value after '{op}': a \"double-quoted\" string, a number, true, false \
                         or null"
                    ),
                ));
            }
            _ => {
                return Err(self.error(
                    &value_token,
                    format_args!("a value after '{op}' (a string, a number, true, false or null)"),
                ));
            }
        };
        if !op.accepts(&value) {
            let takes = if op.is_substring() {
                "a string"
            } else {
                "a string (such as a date) or a number"
            };
            return Err(FilterError::at(
                self.input,
                value_token.at,
                format_args!("'{op}' compares with {takes}, not {value}"),
            ));
        }
        Ok(Filter::Compare { path, op, value })
    }

    /// `[valFilter]`, after its `[` was read.
    fn value_filter(
        &mut self,
        path: &AttrPath,
        path_token: &Token,
        open: &Token,
        in_value: bool,
    ) -> Result<Filter, FilterError> {
        if in_value {
            return Err(FilterError::at(
                self.input,
                open.at,
                "value filters '[ ]' cannot nest",
            ));
        }
        if path.sub_attr.is_some() {
            return Err(FilterError::at(
                self.input,
                path_token.at,
                format_args!(
                    "a value filter '[ ]' applies to a multi-valued attribute, not to the \
                     sub-attribute {}",
                    quoted(&path.to_string())
                ),
            ));
        }
        self.enter(open)?;
        let filter = self.or(true)?;
        self.expect(Tok::RBracket, "'and', 'or' or ']'")?;
        self.depth -= 1;
        Ok(filter)
    }

    /// Splits a word into `[URN ":"] attr ["." sub]`. The URN ends at the last ':' (URNs may
    /// hold dots, as in `…:2.0:User`; attribute names hold neither).
    fn attr_path(&self, word: &str, token: &Token) -> Result<AttrPath, FilterError> {
        let (schema, rest) = match word.rfind(':') {
            Some(colon) => {
                let schema = word.get(..colon).unwrap_or_default();
                let rest = word.get(colon + 1..).unwrap_or_default();
                let is_urn = schema
                    .get(..4)
                    .is_some_and(|s| s.eq_ignore_ascii_case("urn:"));
                if !is_urn {
                    return Err(FilterError::at(
                        self.input,
                        token.at,
                        format_args!(
                            "expected an attribute path, found {}: a ':' may only end a schema \
                             URN (\"urn:…:attribute\")",
                            quoted(word)
                        ),
                    ));
                }
                (Some(schema.to_owned()), rest)
            }
            None => (None, word),
        };
        let mut parts = rest.split('.');
        let attr = parts.next().unwrap_or_default();
        let sub_attr = parts.next();
        let bad = !is_attr_name(attr)
            || sub_attr.is_some_and(|s| !is_attr_name(s))
            || parts.next().is_some();
        if bad {
            return Err(FilterError::at(
                self.input,
                token.at,
                format_args!(
                    "expected an attribute path (name, name.subName or urn:…:name), found {}",
                    quoted(word)
                ),
            ));
        }
        Ok(AttrPath {
            schema,
            attr: attr.to_owned(),
            sub_attr: sub_attr.map(str::to_owned),
        })
    }
}

/// Parses a filter (the `filter` query parameter, or `filter` in a search request).
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input)?;
    let filter = parser.or(false)?;
    let token = parser.bump();
    if token.tok != Tok::End {
        return Err(parser.error(&token, "'and', 'or' or the end of the filter"));
    }
    Ok(filter)
}

/// Parses a PATCH operation's `path` (RFC 7644 §3.5.2): `attrPath`, or
/// `attrPath[valFilter]` optionally followed by `.subAttr`.
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input)?;
    let token = parser.bump();
    let Tok::Word(word) = &token.tok else {
        return Err(parser.error(&token, "an attribute path"));
    };
    let path = parser.attr_path(word, &token)?;
    let next = parser.bump();
    let result = match next.tok {
        Tok::End => return Ok(PatchPath::Attr(path)),
        Tok::LBracket => {
            let filter = parser.value_filter(&path, &token, &next, false)?;
            let close_end = parser
                .tokens
                .get(parser.next.wrapping_sub(1))
                .map_or(0, |t| t.end);
            let after = parser.peek().clone();
            let sub_attr = match &after.tok {
                // `.subAttr` straight after the `]`, as one word starting with '.'.
                Tok::Word(w) if w.starts_with('.') && after.at == close_end => {
                    let sub = w.get(1..).unwrap_or_default();
                    if !is_attr_name(sub) {
                        return Err(parser.error(&after, "'.' and a sub-attribute name"));
                    }
                    parser.bump();
                    Some(sub.to_owned())
                }
                _ => None,
            };
            PatchPath::Value {
                path,
                filter,
                sub_attr,
            }
        }
        _ => return Err(parser.error(&next, "'[' or the end of the path")),
    };
    let last = parser.bump();
    if last.tok != Tok::End {
        return Err(parser.error(&last, "'.subAttribute' or the end of the path"));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_words_strings_numbers() {
        let tokens = lex(r#"a.b eq "x\"y" 1.5e3 ( ) [ ]"#).unwrap();
        let toks: Vec<Tok> = tokens.into_iter().map(|t| t.tok).collect();
        assert_eq!(toks.len(), 9);
        assert_eq!(toks[2], Tok::Str("x\"y".into()));
    }
}
