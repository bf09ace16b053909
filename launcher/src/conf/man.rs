//! The option reference of `pymsboot.conf(5)`, rendered from the option
//! tables, so the man page and the sample cannot disagree with the code.
//!
//! The output is the body of the man page's OPTIONS section in man(7)
//! macros: one `.SS` per section, one `.TP` per option. The page keeps it
//! between marker comments and `make man` replaces it there.

use std::fmt::Write as _;

use super::ini::normalize_name;
use super::opt::{Opt, OptDefault, OptKind};
use super::value;

/// Renders every option of `tables` as roff: `[DEFAULT]` first, then the
/// other sections in the order they first appear, each option once, in
/// declaration order. Each option gets a `.TP` entry with its help, then a
/// paragraph giving its type, default, bounds or choices, and whether a
/// `SIGHUP` changes it in place. Text is escaped for roff, so help written
/// for the sample needs no change. The output depends only on the tables.
pub fn render_man_options(tables: &[&[&'static Opt]]) -> String {
    let sections = super::sample::by_section(tables);

    let mut out = String::new();
    for (section, opts) in sections {
        let _ = writeln!(out, ".SS [{}]", escape(section, Words::Code));
        for opt in opts {
            render_opt(&mut out, opt);
        }
    }
    out
}

fn render_opt(out: &mut String, opt: &Opt) {
    out.push_str(".TP\n");
    let _ = writeln!(out, ".B {}", escape(&normalize_name(opt.name), Words::Code));
    // Paragraphs of the help: a blank line in the declaration starts a new one.
    let mut first = true;
    for paragraph in opt.help.split("\n\n") {
        let sentences = sentences(paragraph);
        if sentences.is_empty() {
            continue;
        }
        if !first {
            out.push_str(".IP\n");
        }
        first = false;
        for sentence in sentences {
            push_line(out, &escape(&sentence, Words::Prose));
        }
    }
    if !first {
        out.push_str(".IP\n");
    }
    for line in facts(opt) {
        push_line(out, &line);
    }
}

/// `text` split into sentences, one per source line, as roff wants them: a
/// line that ends a sentence gets the sentence space, and none other does.
fn sentences(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut words = text.split_whitespace().peekable();
    while let Some(word) = words.next() {
        current.push(word);
        let ends = word
            .trim_end_matches([')', '"', '\''])
            .ends_with(['.', '?', '!']);
        let next_starts = words
            .peek()
            .and_then(|next| next.trim_start_matches(['(', '"', '-']).chars().next())
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
        if ends && next_starts {
            lines.push(current.join(" "));
            current.clear();
        }
    }
    if !current.is_empty() {
        lines.push(current.join(" "));
    }
    lines
}

/// The type, default, bounds, choices and reload behaviour, one sentence each,
/// already escaped.
fn facts(opt: &Opt) -> Vec<String> {
    let mut lines = vec![format!(
        "Type: {}.",
        escape(opt.kind.type_name(), Words::Prose)
    )];
    lines.push(match opt.default {
        OptDefault::Unset => "Default: unset.".to_owned(),
        OptDefault::Value(text) => match canonical(opt, text) {
            shown if shown.is_empty() => "Default: empty.".to_owned(),
            shown => format!("Default: \\fB{}\\fR.", escape(&shown, Words::Code)),
        },
        OptDefault::Computed { describe, .. } => format!(
            "Default: \\fI{}\\fR (computed when the configuration is loaded).",
            escape(describe, Words::Prose)
        ),
    });
    if let Some(min) = opt.kind.min() {
        lines.push(format!(
            "Minimum: {}.",
            escape(&min.to_string(), Words::Code)
        ));
    }
    if let Some(max) = opt.kind.max() {
        lines.push(format!(
            "Maximum: {}.",
            escape(&max.to_string(), Words::Code)
        ));
    }
    if let OptKind::Choice(choices) = opt.kind {
        let shown: Vec<String> = choices
            .iter()
            .map(|c| format!("\\fB{}\\fR", escape(c, Words::Code)))
            .collect();
        lines.push(format!("Possible values: {}.", shown.join(", ")));
    }
    if opt.mutable {
        lines.push("Mutable on SIGHUP: a reload changes it in place.".to_owned());
    }
    if opt.secret {
        lines.push("Secret: passwords in it are shown as *** in logs and reports.".to_owned());
    }
    lines
}

/// The default as a file would best spell it (`false`, not `False`).
fn canonical(opt: &Opt, text: &str) -> String {
    value::parse(opt.kind, text)
        .map(|v| v.render())
        .unwrap_or_else(|_| text.to_owned())
}

/// Appends one text line, protected from being read as a request.
fn push_line(out: &mut String, line: &str) {
    if line.starts_with(['.', '\'']) {
        out.push_str("\\&");
    }
    out.push_str(line);
    out.push('\n');
}

/// How hyphens are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Words {
    /// Names, values, commands: every hyphen is a `\-`, so it renders and
    /// copies as the ASCII hyphen-minus that must be typed.
    Code,
    /// Sentences: a hyphen inside an ordinary word ("link-local") stays a
    /// hyphen; one in a flag, a path, a URL or a command becomes `\-`.
    Prose,
}

/// `text` escaped for a roff text line or macro argument: backslashes,
/// hyphens as [`Words`] says, blanks collapsed, and characters outside ASCII
/// as `\[uXXXX]` so no input encoding is assumed.
fn escape(text: &str, words: Words) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let minus = words == Words::Code || looks_like_code(word);
        for c in word.chars() {
            match c {
                '\\' => out.push_str("\\e"),
                '-' if minus => out.push_str("\\-"),
                c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
                c => {
                    let _ = write!(out, "\\[u{:04X}]", u32::from(c));
                }
            }
        }
    }
    out
}

/// A word an operator would type rather than read: a flag, a negative
/// number, a path, a URL, an option or a pymsboot command.
fn looks_like_code(word: &str) -> bool {
    word.trim_start_matches(['(', '"', '`']).starts_with('-')
        || word.contains(['/', ':', '=', '_', '+', '@'])
        || word.contains("pymsboot-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn opt(section: &'static str, name: &'static str, kind: OptKind) -> Opt {
        Opt {
            section,
            name,
            kind,
            default: OptDefault::Value("0"),
            help: "Help.",
            mutable: false,
            secret: false,
        }
    }

    static WORKERS: Opt = Opt {
        help: "Number of workers.\n\n0 means one per CPU.",
        ..opt("api", "api_workers", OptKind::at_least(0))
    };
    static DEBUG: Opt = Opt {
        default: OptDefault::Value("False"),
        mutable: true,
        ..opt("DEFAULT", "debug", OptKind::Bool)
    };
    static URL: Opt = Opt {
        default: OptDefault::Value("rabbit://guest:guest@127.0.0.1:5672//"),
        help: "A URL.",
        secret: true,
        ..opt(
            "DEFAULT",
            "transport_url",
            OptKind::Url {
                schemes: &["rabbit"],
            },
        )
    };
    static HOST: Opt = Opt {
        default: OptDefault::Computed {
            describe: "the machine's hostname",
            compute: || "h".to_owned(),
        },
        ..opt("engine", "host", OptKind::Str)
    };
    static SORT: Opt = Opt {
        default: OptDefault::Unset,
        ..opt("api", "sort-dir", OptKind::Choice(&["asc", "desc"]))
    };

    #[test]
    fn each_section_and_option_gets_its_macros_and_facts() {
        let tables: &[&[&Opt]] = &[&[&WORKERS, &SORT], &[&HOST], &[&DEBUG, &URL]];
        let expected = "\
.SS [DEFAULT]
.TP
.B debug
Help.
.IP
Type: boolean value.
Default: \\fBfalse\\fR.
Mutable on SIGHUP: a reload changes it in place.
.TP
.B transport_url
A URL.
.IP
Type: uri value.
Default: \\fBrabbit://guest:guest@127.0.0.1:5672//\\fR.
Secret: passwords in it are shown as *** in logs and reports.
.SS [api]
.TP
.B api_workers
Number of workers.
.IP
0 means one per CPU.
.IP
Type: integer value.
Default: \\fB0\\fR.
Minimum: 0.
.TP
.B sort_dir
Help.
.IP
Type: string value.
Default: unset.
Possible values: \\fBasc\\fR, \\fBdesc\\fR.
.SS [engine]
.TP
.B host
Help.
.IP
Type: string value.
Default: \\fIthe machine's hostname\\fR (computed when the configuration is loaded).
";
        assert_eq!(render_man_options(tables), expected);
    }

    #[test]
    fn options_listed_twice_are_rendered_once() {
        let out = render_man_options(&[&[&DEBUG], &[&DEBUG]]);
        assert_eq!(out.matches(".B debug").count(), 1);
    }

    #[test]
    fn roff_special_characters_are_escaped() {
        assert_eq!(escape(r"C:\dir", Words::Prose), r"C:\edir");
        assert_eq!(escape("link-local", Words::Prose), "link-local");
        assert_eq!(
            escape("see pymsboot-manage", Words::Prose),
            r"see pymsboot\-manage"
        );
        assert_eq!(escape("--config-file", Words::Prose), r"\-\-config\-file");
        assert_eq!(escape("-1 retries", Words::Prose), r"\-1 retries");
        assert_eq!(escape("a-b", Words::Code), r"a\-b");
        assert_eq!(
            escape("caf\u{e9} \u{2192}", Words::Prose),
            r"caf\[u00E9] \[u2192]"
        );
        assert_eq!(
            escape("two  blanks\nand a line", Words::Prose),
            "two blanks and a line"
        );
    }

    #[test]
    fn help_is_written_one_sentence_per_line() {
        assert_eq!(
            sentences(
                "One, e.g. this. (Optional) Two ends here.  Three 3.5 times. 0 is off. -1 not."
            ),
            [
                "One, e.g. this.",
                "(Optional) Two ends here.",
                "Three 3.5 times.",
                "0 is off.",
                "-1 not."
            ]
        );
    }

    #[test]
    fn a_line_starting_with_a_control_character_is_protected() {
        let mut out = String::new();
        push_line(&mut out, ".hidden");
        push_line(&mut out, "'quoted'");
        push_line(&mut out, "plain");
        assert_eq!(out, "\\&.hidden\n\\&'quoted'\nplain\n");
    }
}
