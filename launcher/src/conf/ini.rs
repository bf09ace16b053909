//! Reading one INI file the way oslo.config does, on top of `rust-ini`.
//!
//! oslo's rules: lines starting with `#` or `;` are comments; nothing else is
//! a comment (`a = x # y` has the value `x # y`); backslashes are kept as they
//! are; a value wholly inside matching `"` or `'` loses them; an indented line
//! continues the value above it; a section may appear several times and its
//! keys merge, the later one winning. Section names are matched like oslo's:
//! `DEFAULT` exactly, every other section in any case. Option names are read
//! with `-` as `_`.
//!
//! `rust-ini` alone reads some malformed lines differently from oslo (a line
//! without `=` swallows the next line; a backslash before a newline joins
//! lines), so [`check_lines`] first rejects what oslo rejects, with oslo's
//! wording and the line number. One leniency remains: `[ api ]` is read as
//! `[api]`, where oslo would see an unknown section.

use std::borrow::Cow;
use std::path::Path;

use ini::{Ini, ParseOption};

/// One `key = value` line, in file order, with names normalized for lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) section: String,
    pub(crate) name: String,
    pub(crate) value: String,
}

/// Reads and parses one file.
///
/// # Errors
///
/// `cannot read: <why>` when the file cannot be read as UTF-8 text, or
/// `line N: <why>` for the first syntax error, as oslo reports it.
pub(crate) fn read_file(path: &Path) -> Result<Vec<Assignment>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    parse_str(&text)
}

/// Parses the text of one file.
///
/// # Errors
///
/// `line N: <why>` for the first syntax error.
pub(crate) fn parse_str(text: &str) -> Result<Vec<Assignment>, String> {
    let text = check_lines(text).map_err(|(line, why)| format!("line {line}: {why}"))?;
    let options = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: true,
        enabled_preserve_key_leading_whitespace: false,
    };
    let doc = Ini::load_from_str_opt(&text, options)
        .map_err(|e| format!("line {}: {}", e.line, e.msg))?;
    let mut assignments = Vec::new();
    // `iter` yields each occurrence of a section where it appears in the file,
    // so a repeated section's later keys come later and win when merged.
    for (section, properties) in doc.iter() {
        // check_lines rejected every assignment before the first section.
        let Some(section) = section else { continue };
        for (key, value) in properties.iter() {
            assignments.push(Assignment {
                section: normalize_section(section),
                name: normalize_name(key),
                value: strip_quotes(value),
            });
        }
    }
    Ok(assignments)
}

/// The section name used for lookups: `DEFAULT` as is, any other lowercased.
pub(crate) fn normalize_section(section: &str) -> String {
    if section == "DEFAULT" {
        section.to_owned()
    } else {
        section.to_lowercase()
    }
}

/// The option name used for lookups: `-` read as `_`.
pub(crate) fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// oslo drops one pair of matching quotes around the first line of a value.
fn strip_quotes(value: &str) -> String {
    let (first, more) = match value.split_once('\n') {
        Some((first, more)) => (first, Some(more)),
        None => (value, None),
    };
    let quoted = first.len() >= 2
        && (first.starts_with('"') && first.ends_with('"')
            || first.starts_with('\'') && first.ends_with('\''));
    let first = if quoted {
        &first[1..first.len() - 1]
    } else {
        first
    };
    match more {
        Some(more) => format!("{first}\n{more}"),
        None => first.to_owned(),
    }
}

/// Walks the lines as oslo's parser does and returns the first error with its
/// 1-based line number; otherwise the text to hand to `rust-ini`.
fn check_lines(text: &str) -> Result<Cow<'_, str>, (usize, &'static str)> {
    let mut in_value = false;
    let mut in_section = false;
    let mut needs_rewrite = text.contains('\r');
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim_end();
        needs_rewrite |= line.ends_with('\\');
        if line.is_empty() {
            in_value = false;
        } else if line.starts_with([' ', '\t']) {
            if !in_value {
                return Err((number, "unexpected continuation line"));
            }
        } else if line.starts_with('[') {
            in_value = false;
            let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
                return Err((number, "invalid section (must end with ])"));
            };
            if name.trim().is_empty() {
                return Err((number, "empty section name"));
            }
            if name.contains(']') {
                return Err((number, "']' inside a section name is not supported"));
            }
            in_section = true;
        } else if line.starts_with(['#', ';']) {
            in_value = false;
        } else {
            let Some(separator) = line.find([':', '=']) else {
                return Err((number, "no ':' or '=' found in assignment"));
            };
            if line[..separator].trim().is_empty() {
                return Err((number, "key cannot be empty"));
            }
            if !in_section {
                return Err((number, "section must be started before assignment"));
            }
            in_value = true;
        }
    }
    if !needs_rewrite {
        return Ok(Cow::Borrowed(text));
    }
    // rust-ini joins a line ending in `\` with the next one; oslo keeps the
    // backslash. A trailing blank, which values lose anyway, keeps them apart.
    // oslo reads files with universal newlines, so `\r\n` becomes `\n` too.
    let mut rewritten = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        rewritten.push_str(line.trim_end());
        if line.trim_end().ends_with('\\') {
            rewritten.push(' ');
        }
        rewritten.push('\n');
    }
    Ok(Cow::Owned(rewritten))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<(String, String, String)> {
        parse_str(text)
            .expect("test input is valid")
            .into_iter()
            .map(|a| (a.section, a.name, a.value))
            .collect()
    }

    fn one(text: &str) -> String {
        let all = parse(text);
        assert_eq!(all.len(), 1, "{all:?}");
        all[0].2.clone()
    }

    fn a(section: &str, name: &str, value: &str) -> (String, String, String) {
        (section.into(), name.into(), value.into())
    }

    #[test]
    fn hash_and_semicolon_lines_are_comments() {
        let text = "# top\n[DEFAULT]\n# a = 1\n; b = 2\n#c=3\nd = 4\n";
        assert_eq!(parse(text), vec![a("DEFAULT", "d", "4")]);
    }

    #[test]
    fn inline_hash_and_semicolon_are_part_of_the_value() {
        assert_eq!(one("[DEFAULT]\na = x # y\n"), "x # y");
        assert_eq!(one("[DEFAULT]\na = x ; y\n"), "x ; y");
        assert_eq!(one("[DEFAULT]\na = #x\n"), "#x");
    }

    #[test]
    fn keys_and_values_are_trimmed() {
        assert_eq!(
            parse("[DEFAULT]\n  \n\t\na   =   x y   \n"),
            vec![a("DEFAULT", "a", "x y")]
        );
    }

    #[test]
    fn an_empty_value_is_an_empty_string() {
        assert_eq!(one("[DEFAULT]\na =\n"), "");
        assert_eq!(one("[DEFAULT]\na ="), "");
    }

    #[test]
    fn the_first_colon_or_equals_sign_separates_key_and_value() {
        assert_eq!(one("[DEFAULT]\na : b\n"), "b");
        assert_eq!(one("[DEFAULT]\na = b = c\n"), "b = c");
        assert_eq!(
            one("[DEFAULT]\nurl = rabbit://u:p@h:5672/\n"),
            "rabbit://u:p@h:5672/"
        );
    }

    #[test]
    fn matching_outer_quotes_are_dropped_and_others_kept() {
        assert_eq!(one("[DEFAULT]\na = \"x y\"\n"), "x y");
        assert_eq!(one("[DEFAULT]\na = 'x y'\n"), "x y");
        assert_eq!(one("[DEFAULT]\na = \"\"\n"), "");
        assert_eq!(one("[DEFAULT]\na = 'x' y\n"), "'x' y");
        assert_eq!(one("[DEFAULT]\na = \"x\n"), "\"x");
        assert_eq!(one("[DEFAULT]\na = \"x'\n"), "\"x'");
    }

    #[test]
    fn backslashes_are_kept_as_written() {
        assert_eq!(one("[DEFAULT]\na = C:\\new\\t\\x41\n"), "C:\\new\\t\\x41");
        assert_eq!(
            parse("[DEFAULT]\na = x\\\nb = 2\n"),
            vec![a("DEFAULT", "a", "x\\"), a("DEFAULT", "b", "2")]
        );
    }

    #[test]
    fn an_indented_line_continues_the_value_above() {
        assert_eq!(one("[DEFAULT]\na = x\n  y\n\t# z\n"), "x\ny\n# z");
    }

    #[test]
    fn an_indented_line_after_a_blank_line_or_a_header_is_an_error() {
        let err = parse_str("[DEFAULT]\na = x\n\n  y\n").unwrap_err();
        assert_eq!(err, "line 4: unexpected continuation line");
        let err = parse_str("[DEFAULT]\n  # indented comment\n").unwrap_err();
        assert_eq!(err, "line 2: unexpected continuation line");
    }

    #[test]
    fn repeated_sections_merge_in_file_order() {
        let text = "[api]\na = 1\nb = 1\n[DEFAULT]\nc = 1\n[api]\na = 2\n";
        assert_eq!(
            parse(text),
            vec![
                a("api", "a", "1"),
                a("api", "b", "1"),
                a("DEFAULT", "c", "1"),
                a("api", "a", "2")
            ]
        );
    }

    #[test]
    fn repeated_keys_are_all_kept_in_order_so_the_last_wins() {
        assert_eq!(
            parse("[DEFAULT]\na = 1\na = 2\n"),
            vec![a("DEFAULT", "a", "1"), a("DEFAULT", "a", "2")]
        );
    }

    #[test]
    fn section_names_match_like_oslo() {
        let text = "[DEFAULT]\na = 1\n[default]\nb = 1\n[API]\nc = 1\n";
        assert_eq!(
            parse(text),
            vec![
                a("DEFAULT", "a", "1"),
                a("default", "b", "1"),
                a("api", "c", "1")
            ]
        );
    }

    #[test]
    fn dashes_in_option_names_read_as_underscores_and_case_is_kept() {
        assert_eq!(
            parse("[DEFAULT]\nlog-file = x\nDebug = 1\n"),
            vec![a("DEFAULT", "log_file", "x"), a("DEFAULT", "Debug", "1")]
        );
    }

    #[test]
    fn windows_line_endings_are_read_like_unix_ones() {
        assert_eq!(
            parse("[DEFAULT]\r\na = 1\r\nb = x\\\r\n"),
            vec![a("DEFAULT", "a", "1"), a("DEFAULT", "b", "x\\")]
        );
    }

    #[test]
    fn malformed_lines_are_reported_with_oslo_wording_and_line_number() {
        let cases = [
            (
                "[DEFAULT]\ngarbage\na = 1\n",
                "line 2: no ':' or '=' found in assignment",
            ),
            (
                "a = 1\n[DEFAULT]\n",
                "line 1: section must be started before assignment",
            ),
            ("[DEFAULT]\n= 1\n", "line 2: key cannot be empty"),
            (
                "[DEFAULT\na = 1\n",
                "line 1: invalid section (must end with ])",
            ),
            (
                "[DEFAULT] # c\n",
                "line 1: invalid section (must end with ])",
            ),
            ("[]\n", "line 1: empty section name"),
            (
                "[a]b]\n",
                "line 1: ']' inside a section name is not supported",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_str(text).unwrap_err(), want, "{text:?}");
        }
    }

    #[test]
    fn an_empty_file_has_no_assignments() {
        assert_eq!(parse(""), vec![]);
        assert_eq!(parse("# only comments\n\n"), vec![]);
    }

    #[test]
    fn a_missing_file_cannot_be_read() {
        let err = read_file(Path::new("/nonexistent/pymsboot.conf")).unwrap_err();
        assert_eq!(err, "cannot read: No such file or directory (os error 2)");
    }
}
