//! The annotated sample configuration, laid out as `oslo-config-generator`
//! writes one, so operators find what they know from other services.

use std::fmt::Write as _;

use super::ini::{normalize_name, normalize_section};
use super::opt::{Opt, OptDefault};
use super::value;

/// oslo-config-generator's default `--wrap-width`.
const WRAP_WIDTH: usize = 70;

/// Renders every option of `tables`, commented out with its default: `[DEFAULT]`
/// first, then the other sections in the order they first appear. Each option
/// gets its help wrapped at 70 columns with its type appended, its bounds or
/// choices, a note when it is mutable, and `#name = default`. The output
/// depends only on the tables.
pub fn render_sample(tables: &[&[&'static Opt]]) -> String {
    let sections = by_section(tables);

    let mut out = String::new();
    for (i, (section, opts)) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        let _ = writeln!(out, "[{section}]");
        for opt in opts {
            out.push('\n');
            render_opt(&mut out, opt);
        }
    }
    out
}

/// The options of `tables` grouped by section: `[DEFAULT]` first, then the
/// other sections in the order they first appear; each option once, in
/// declaration order. The sample and the man page both follow it.
pub(super) fn by_section<'t>(tables: &[&[&'t Opt]]) -> Vec<(&'t str, Vec<&'t Opt>)> {
    let mut opts: Vec<&Opt> = Vec::new();
    for &opt in tables.iter().flat_map(|table| table.iter()) {
        if !opts.iter().any(|seen| same_option(seen, opt)) {
            opts.push(opt);
        }
    }
    let mut sections: Vec<&str> = vec!["DEFAULT"];
    for opt in &opts {
        if !sections.iter().any(|s| same_section(s, opt.section)) {
            sections.push(opt.section);
        }
    }
    sections
        .into_iter()
        .map(|section| {
            (
                section,
                opts.iter()
                    .copied()
                    .filter(|opt| same_section(section, opt.section))
                    .collect(),
            )
        })
        .collect()
}

fn same_section(a: &str, b: &str) -> bool {
    normalize_section(a) == normalize_section(b)
}

fn same_option(a: &Opt, b: &Opt) -> bool {
    same_section(a.section, b.section) && normalize_name(a.name) == normalize_name(b.name)
}

fn render_opt(out: &mut String, opt: &Opt) {
    let type_name = opt.kind.type_name();
    let help = if opt.help.is_empty() {
        format!("({type_name})")
    } else {
        format!("{} ({type_name})", opt.help)
    };
    push_comment(out, &help);
    if let Some(min) = opt.kind.min() {
        let _ = writeln!(out, "# Minimum value: {min}");
    }
    if let Some(max) = opt.kind.max() {
        let _ = writeln!(out, "# Maximum value: {max}");
    }
    if let super::OptKind::Choice(choices) = opt.kind {
        out.push_str("# Possible values:\n");
        for choice in choices {
            let shown = if choice.is_empty() { "''" } else { choice };
            push_comment(out, &format!("{shown} - <No description provided>"));
        }
    }
    if opt.mutable {
        out.push_str("# Note: This option can be changed without restarting.\n");
    }
    if let OptDefault::Computed { .. } = opt.default {
        out.push_str(
            "#\n\
             # This option has a sample default set, which means that\n\
             # its actual default value may vary from the one documented\n\
             # below.\n",
        );
    }
    let default = sample_default(opt);
    let name = normalize_name(opt.name);
    if default.is_empty() {
        let _ = writeln!(out, "#{name} =");
    } else {
        let _ = writeln!(out, "#{name} = {default}");
    }
}

/// The default in canonical spelling (`false`, not `False`); oslo quotes a
/// value with surrounding blanks so that they survive being uncommented.
fn sample_default(opt: &Opt) -> String {
    let text = match opt.default {
        OptDefault::Value(text) => value::parse(opt.kind, text)
            .map(|v| v.render())
            .unwrap_or_else(|_| text.to_owned()),
        _ => opt.default_text().into_owned(),
    };
    if text.trim() != text {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// Each line of `text` wrapped as `# ` comments; a blank line becomes `#`.
fn push_comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let wrapped = wrap(line, WRAP_WIDTH, "# ");
        if wrapped.is_empty() {
            out.push_str("#\n");
        }
        for l in wrapped {
            out.push_str(&l);
            out.push('\n');
        }
    }
}

/// Python's `textwrap.wrap(line, width, initial_indent=indent,
/// subsequent_indent=indent, break_long_words=False)`, which the generator
/// uses, except that it breaks only at blanks, never after hyphens.
fn wrap(line: &str, width: usize, indent: &str) -> Vec<String> {
    let room = width.saturating_sub(indent.len());
    let mut chunks = split_chunks(line);
    chunks.reverse();
    let blank = |chunk: &str| chunk.trim().is_empty();
    let mut lines = Vec::new();
    while !chunks.is_empty() {
        // Blanks that would start a continuation line are dropped.
        if !lines.is_empty() && chunks.last().is_some_and(|c| blank(c)) {
            chunks.pop();
        }
        let mut current: Vec<&str> = Vec::new();
        let mut len = 0;
        while let Some(&chunk) = chunks.last() {
            let chunk_len = chunk.chars().count();
            if len + chunk_len > room {
                break;
            }
            current.push(chunk);
            len += chunk_len;
            chunks.pop();
        }
        // A word longer than a line goes on a line of its own, unbroken.
        if current.is_empty()
            && let Some(chunk) = chunks.pop()
        {
            current.push(chunk);
        }
        if current.last().is_some_and(|c| blank(c)) {
            current.pop();
        }
        if !current.is_empty() {
            lines.push(format!("{indent}{}", current.concat()));
        }
    }
    lines
}

/// Alternating runs of blanks and of other characters.
fn split_chunks(line: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut in_blank = None;
    for (i, c) in line.char_indices() {
        let is_blank = c.is_whitespace();
        if in_blank.is_some_and(|b| b != is_blank) {
            chunks.push(&line[start..i]);
            start = i;
        }
        in_blank = Some(is_blank);
    }
    if start < line.len() {
        chunks.push(&line[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::super::opt::OptKind;
    use super::*;

    const fn opt(
        section: &'static str,
        name: &'static str,
        kind: OptKind,
        default: OptDefault,
    ) -> Opt {
        Opt {
            section,
            name,
            kind,
            default,
            help: "Help.",
            mutable: false,
            secret: false,
        }
    }

    static DEBUG: Opt = Opt {
        help: "If set to true, the logging level will be set to DEBUG instead of the default INFO level.",
        mutable: true,
        ..opt(
            "DEFAULT",
            "debug",
            OptKind::Bool,
            OptDefault::Value("False"),
        )
    };
    static WORKERS: Opt = opt(
        "api",
        "api_workers",
        OptKind::Int {
            min: Some(0),
            max: None,
        },
        OptDefault::Value("0"),
    );
    static PORT: Opt = opt("api", "port", OptKind::Port, OptDefault::Value("9666"));
    static HOST: Opt = opt(
        "api",
        "host",
        OptKind::HostAddress,
        OptDefault::Value("0.0.0.0"),
    );
    static SORT: Opt = opt(
        "api",
        "sort_dir",
        OptKind::Choice(&["asc", "desc"]),
        OptDefault::Value("asc"),
    );
    static HOSTS: Opt = opt("engine", "hosts", OptKind::List, OptDefault::Value("a, b"));
    static NAME: Opt = opt("engine", "name", OptKind::Str, OptDefault::Value(""));
    static PAD: Opt = opt("engine", "pad", OptKind::Str, OptDefault::Value(" x "));
    static SERVER: Opt = opt(
        "engine",
        "server",
        OptKind::Str,
        OptDefault::Computed {
            describe: "hostname",
            compute: || "h".to_owned(),
        },
    );
    static URL: Opt = Opt {
        secret: true,
        ..opt(
            "DEFAULT",
            "transport_url",
            OptKind::Url {
                schemes: &["rabbit"],
            },
            OptDefault::Unset,
        )
    };

    #[test]
    fn the_sample_renders_each_kind_like_oslo_config_generator() {
        let tables: &[&[&Opt]] = &[
            &[&WORKERS, &PORT, &HOST, &SORT],
            &[&HOSTS, &NAME, &PAD, &SERVER],
            &[&DEBUG, &URL],
        ];
        let expected = "\
[DEFAULT]

# If set to true, the logging level will be set to DEBUG instead of
# the default INFO level. (boolean value)
# Note: This option can be changed without restarting.
#debug = false

# Help. (uri value)
#transport_url = <None>


[api]

# Help. (integer value)
# Minimum value: 0
#api_workers = 0

# Help. (port value)
# Minimum value: 0
# Maximum value: 65535
#port = 9666

# Help. (host address value)
#host = 0.0.0.0

# Help. (string value)
# Possible values:
# asc - <No description provided>
# desc - <No description provided>
#sort_dir = asc


[engine]

# Help. (list value)
#hosts = a,b

# Help. (string value)
#name =

# Help. (string value)
#pad = \" x \"

# Help. (string value)
#
# This option has a sample default set, which means that
# its actual default value may vary from the one documented
# below.
#server = <hostname>
";
        assert_eq!(render_sample(tables), expected);
    }

    #[test]
    fn the_default_section_is_written_even_when_empty_and_options_once() {
        assert_eq!(
            render_sample(&[&[&PORT], &[&PORT]])
                .matches("#port = 9666")
                .count(),
            1
        );
        assert!(render_sample(&[]).starts_with("[DEFAULT]\n"));
    }

    #[test]
    fn help_paragraphs_are_kept_and_long_words_are_not_broken() {
        let mut out = String::new();
        let long = "x".repeat(80);
        push_comment(&mut out, &format!("First.\n\nSecond {long} end."));
        assert_eq!(out, format!("# First.\n#\n# Second\n# {long}\n# end.\n"));
    }

    #[test]
    fn wrapping_fills_lines_up_to_seventy_columns() {
        let text = "word ".repeat(30);
        let lines = wrap(text.trim_end(), 70, "# ");
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|line| line.len() <= 70));
        assert!(lines[..2].iter().all(|line| line.len() > 64));
    }
}
