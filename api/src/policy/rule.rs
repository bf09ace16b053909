//! The rule language of oslo.policy: parse a rule string into a [`Check`],
//! and evaluate it against a target and the caller's credentials.
//!
//! Grammar, with oslo's precedence (`not` binds tighter than `and`, `and`
//! tighter than `or`); keywords are case-insensitive:
//! ```text
//! rule    := "" | or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | "(" or ")" | check
//! check   := "@" | "!" | "rule:" NAME | "role:" MATCH | ATTR ":" MATCH | "'" LITERAL "'" ":" MATCH
//! MATCH   := "%(" KEY ")s" | LITERAL
//! ```
//! Tokens are split on whitespace, and parentheses are peeled off the ends of
//! a token, as oslo's tokenizer does. Where oslo logs a rule it cannot read and
//! denies, this parser refuses it, so that a typo is a load error.

use super::{Credentials, Target};

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// `@` or the empty rule: always.
    Always,
    /// `!`: never.
    Never,
    Not(Box<Check>),
    And(Vec<Check>),
    Or(Vec<Check>),
    /// `rule:<name>`: another rule of the enforcer.
    Rule(String),
    /// `role:<match>`: one of the caller's roles, compared case-insensitively.
    Role(Match),
    /// `<attr>:<match>` or `'<literal>':<match>`.
    Generic {
        left: Left,
        right: Match,
    },
}

/// The left side of a generic check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Left {
    /// A credential attribute: `project_id`, `user_id`, `is_admin`, `roles`.
    Credential(String),
    /// A quoted literal.
    Literal(String),
}

/// The right side of a check: a literal, or a value of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    Literal(String),
    /// `%(key)s`: the target's value for `key`; absent, the check fails.
    Target(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Check(Check),
}

/// Parse a rule string. The error is the reason, without the rule's name.
pub(crate) fn parse(text: &str) -> Result<Check, String> {
    if text.is_empty() {
        return Ok(Check::Always);
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("a rule of only spaces (write \"\" to allow everyone)".into());
    }
    let mut parser = Parser { tokens, at: 0 };
    let check = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(check),
        Some(Token::Close) => Err("a ')' without its '('".into()),
        Some(_) => Err("two checks without 'and' or 'or' between them".into()),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for word in text.split_whitespace() {
        let inner = word.trim_start_matches('(');
        tokens.extend((0..word.len() - inner.len()).map(|_| Token::Open));
        let core = inner.trim_end_matches(')');
        let closes = inner.len() - core.len();
        if !core.is_empty() {
            tokens.push(match core.to_ascii_lowercase().as_str() {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                _ => Token::Check(parse_check(core)?),
            });
        }
        tokens.extend((0..closes).map(|_| Token::Close));
    }
    Ok(tokens)
}

fn parse_check(token: &str) -> Result<Check, String> {
    match token {
        "@" => return Ok(Check::Always),
        "!" => return Ok(Check::Never),
        _ => {}
    }
    let Some((kind, value)) = split_check(token) else {
        return Err(format!("{token:?} is not a check (kind:value, @ or !)"));
    };
    if value.is_empty() {
        return Err(format!("{token:?} has nothing after its ':'"));
    }
    match kind {
        "rule" => Ok(Check::Rule(value.into())),
        "role" => Ok(Check::Role(parse_match(value)?)),
        "http" | "https" => Err(format!("{token:?}: http checks are not supported")),
        "" => Err(format!("{token:?} has nothing before its ':'")),
        _ => Ok(Check::Generic {
            left: parse_left(kind)?,
            right: parse_match(value)?,
        }),
    }
}

/// `kind:value`, where a quoted kind may itself hold a ':'.
fn split_check(token: &str) -> Option<(&str, &str)> {
    let quote = token.chars().next().filter(|c| *c == '\'' || *c == '"');
    if let Some(quote) = quote {
        let end = token[1..].find(quote)? + 1;
        let rest = token[end + 1..].strip_prefix(':')?;
        return Some((&token[..=end], rest));
    }
    token.split_once(':')
}

fn parse_left(kind: &str) -> Result<Left, String> {
    for quote in ['\'', '"'] {
        if let Some(literal) = kind.strip_prefix(quote) {
            return match literal.strip_suffix(quote) {
                Some(literal) => Ok(Left::Literal(literal.into())),
                None => Err(format!("{kind:?}: an unclosed quote")),
            };
        }
    }
    if kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(Left::Credential(kind.into()))
    } else {
        Err(format!("{kind:?} is not a credential attribute"))
    }
}

fn parse_match(value: &str) -> Result<Match, String> {
    if let Some(key) = value
        .strip_prefix("%(")
        .and_then(|rest| rest.strip_suffix(")s"))
        && !key.is_empty()
        && !key.contains(['(', ')', '%'])
    {
        return Ok(Match::Target(key.into()));
    }
    if value.contains('%') {
        return Err(format!("{value:?}: a target value is written %(key)s"));
    }
    Ok(Match::Literal(value.into()))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next_is(&self, token: &Token) -> bool {
        self.tokens.get(self.at) == Some(token)
    }

    fn or(&mut self) -> Result<Check, String> {
        let mut checks = vec![self.and()?];
        while self.next_is(&Token::Or) {
            self.at += 1;
            checks.push(self.and()?);
        }
        Ok(flatten(checks, Check::Or))
    }

    fn and(&mut self) -> Result<Check, String> {
        let mut checks = vec![self.not()?];
        while self.next_is(&Token::And) {
            self.at += 1;
            checks.push(self.not()?);
        }
        Ok(flatten(checks, Check::And))
    }

    fn not(&mut self) -> Result<Check, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Not) => Ok(Check::Not(Box::new(self.not()?))),
            Some(Token::Check(check)) => Ok(check),
            Some(Token::Open) => {
                if self.next_is(&Token::Close) {
                    return Err("empty parentheses".into());
                }
                let check = self.or()?;
                if !self.next_is(&Token::Close) {
                    return Err("a '(' without its ')'".into());
                }
                self.at += 1;
                Ok(check)
            }
            Some(Token::Close) => Err("a ')' where a check was expected".into()),
            Some(Token::And | Token::Or) => Err("'and' or 'or' where a check was expected".into()),
            None => Err("the rule ends where a check was expected".into()),
        }
    }
}

fn flatten(mut checks: Vec<Check>, make: fn(Vec<Check>) -> Check) -> Check {
    if checks.len() == 1 {
        checks.remove(0)
    } else {
        make(checks)
    }
}

impl Check {
    /// The rules this one refers to with `rule:`.
    pub(crate) fn references(&self) -> Vec<&str> {
        match self {
            Check::Rule(name) => vec![name.as_str()],
            Check::Not(check) => check.references(),
            Check::And(checks) | Check::Or(checks) => {
                checks.iter().flat_map(Check::references).collect()
            }
            Check::Always | Check::Never | Check::Role(_) | Check::Generic { .. } => Vec::new(),
        }
    }

    /// Evaluate; `rule` looks up a `rule:` reference (absent: false).
    pub(crate) fn evaluate<'r>(
        &self,
        target: &Target,
        creds: &Credentials,
        rule: &dyn Fn(&str) -> Option<&'r Check>,
    ) -> bool {
        match self {
            Check::Always => true,
            Check::Never => false,
            Check::Not(check) => !check.evaluate(target, creds, rule),
            Check::And(checks) => checks.iter().all(|c| c.evaluate(target, creds, rule)),
            Check::Or(checks) => checks.iter().any(|c| c.evaluate(target, creds, rule)),
            Check::Rule(name) => rule(name).is_some_and(|c| c.evaluate(target, creds, rule)),
            Check::Role(wanted) => wanted
                .resolve(target)
                .is_some_and(|wanted| creds.roles.iter().any(|r| r.eq_ignore_ascii_case(wanted))),
            Check::Generic { left, right } => {
                let Some(right) = right.resolve(target) else {
                    return false;
                };
                match left {
                    Left::Literal(literal) => literal == right,
                    Left::Credential(attr) => credential_matches(creds, attr, right),
                }
            }
        }
    }
}

impl Match {
    fn resolve<'a>(&'a self, target: &'a Target) -> Option<&'a str> {
        match self {
            Match::Literal(literal) => Some(literal),
            Match::Target(key) => target.get(key).map(String::as_str),
        }
    }
}

/// Whether the credential attribute `attr` equals `value`, as oslo compares
/// them: as strings (`is_admin` is `True` or `False`), any item of a list.
fn credential_matches(creds: &Credentials, attr: &str, value: &str) -> bool {
    match attr {
        "user_id" => creds.user_id.as_deref() == Some(value),
        "project_id" => creds.project_id.as_deref() == Some(value),
        "is_admin" => value == if creds.is_admin { "True" } else { "False" },
        "roles" => creds.roles.iter().any(|role| role == value),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Check {
        Check::Role(Match::Literal(name.into()))
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let table = [
            (
                "role:a or role:b and role:c",
                Check::Or(vec![role("a"), Check::And(vec![role("b"), role("c")])]),
            ),
            (
                "role:a and role:b or role:c",
                Check::Or(vec![Check::And(vec![role("a"), role("b")]), role("c")]),
            ),
            (
                "not role:a and role:b",
                Check::And(vec![Check::Not(Box::new(role("a"))), role("b")]),
            ),
            (
                "not role:a or not not role:b",
                Check::Or(vec![
                    Check::Not(Box::new(role("a"))),
                    Check::Not(Box::new(Check::Not(Box::new(role("b"))))),
                ]),
            ),
            (
                "role:a AND role:b Or role:c",
                Check::Or(vec![Check::And(vec![role("a"), role("b")]), role("c")]),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn parentheses_group_and_may_touch_the_checks() {
        let table = [
            (
                "(role:a or role:b) and role:c",
                Check::And(vec![Check::Or(vec![role("a"), role("b")]), role("c")]),
            ),
            (
                "not (role:a and role:b)",
                Check::Not(Box::new(Check::And(vec![role("a"), role("b")]))),
            ),
            ("((role:a))", role("a")),
            (
                "role:a and (role:b or (role:c and role:d))",
                Check::And(vec![
                    role("a"),
                    Check::Or(vec![role("b"), Check::And(vec![role("c"), role("d")])]),
                ]),
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn each_kind_of_check_parses() {
        let table = [
            ("", Check::Always),
            ("@", Check::Always),
            ("!", Check::Never),
            ("rule:admin_required", Check::Rule("admin_required".into())),
            ("role:Admin", role("Admin")),
            (
                "project_id:%(project_id)s",
                Check::Generic {
                    left: Left::Credential("project_id".into()),
                    right: Match::Target("project_id".into()),
                },
            ),
            (
                "is_admin:True",
                Check::Generic {
                    left: Left::Credential("is_admin".into()),
                    right: Match::Literal("True".into()),
                },
            ),
            (
                "'public':%(visibility)s",
                Check::Generic {
                    left: Left::Literal("public".into()),
                    right: Match::Target("visibility".into()),
                },
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_rules_are_refused() {
        for text in [
            "   ",
            "admin",
            "role:",
            ":admin",
            "role:a and",
            "or role:a",
            "role:a role:b",
            "(role:a",
            "role:a)",
            "()",
            "not",
            "http://example.com/check",
            "project_id:%(project_id)",
            "project_id:%s",
            "'unclosed:%(x)s",
            "a.b:c",
            "and",
        ] {
            assert!(parse(text).is_err(), "{text:?} parsed: {:?}", parse(text));
        }
    }

    #[test]
    fn checks_decide_against_target_and_credentials() {
        let creds = Credentials {
            user_id: Some("u1".into()),
            project_id: Some("p1".into()),
            roles: vec!["Reader".into()],
            is_admin: false,
        };
        let target: Target = [("project_id".to_string(), "p1".to_string())].into();
        let other: Target = [("project_id".to_string(), "p2".to_string())].into();
        let none = Target::new();
        let no_rules = |_: &str| None;
        let table = [
            ("role:reader", &target, true),
            ("role:READER", &target, true),
            ("role:member", &target, false),
            ("project_id:%(project_id)s", &target, true),
            ("project_id:%(project_id)s", &other, false),
            ("project_id:%(project_id)s", &none, false),
            ("user_id:u1", &none, true),
            ("is_admin:False", &none, true),
            ("is_admin:True", &none, false),
            ("roles:Reader", &none, true),
            ("unknown_attr:x", &none, false),
            ("'p1':%(project_id)s", &target, true),
            ("'p1':%(project_id)s", &other, false),
            ("not role:reader", &target, false),
            ("rule:undefined", &target, false),
            (
                "role:member or role:reader and project_id:%(project_id)s",
                &target,
                true,
            ),
            (
                "(role:member or role:reader) and project_id:%(project_id)s",
                &other,
                false,
            ),
        ];
        for (text, target, expected) in table {
            let check = parse(text).expect(text);
            assert_eq!(
                check.evaluate(target, &creds, &no_rules),
                expected,
                "{text}"
            );
        }
    }
}
