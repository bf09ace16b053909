//! Reading the services' log files: oslo-style text lines
//! `YYYY-MM-DD HH:MM:SS.mmm <pid> <LEVEL> <target> [<ctx>] <message>`
//! and the access lines of the API.

use std::path::Path;

/// One parsed log record.
#[derive(Clone, Debug)]
pub(crate) struct LogLine {
    /// The pid of the process that wrote it.
    pub pid: i32,
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR`, …
    pub level: String,
    /// The bracketed context, without brackets, if any.
    pub ctx: Option<String>,
    /// The rest of the line.
    pub message: String,
    /// The line as written.
    pub raw: String,
}

impl LogLine {
    /// Parses one line; `None` for anything not in the record format
    /// (continuation lines of a multi-line message, for instance).
    pub(crate) fn parse(raw: &str) -> Option<LogLine> {
        let mut rest = raw;
        let mut token = || {
            let trimmed = rest.trim_start();
            let end = trimmed.find(' ').unwrap_or(trimmed.len());
            let (tok, after) = trimmed.split_at(end);
            rest = after;
            tok
        };
        let (date, time) = (token(), token());
        let looks_like_date = date.len() == 10 && date.as_bytes()[4] == b'-' && time.contains(':');
        let pid = token().parse().ok()?;
        let level = token().to_owned();
        let _target = token();
        if !looks_like_date || level.is_empty() {
            return None;
        }
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let (ctx, message) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((ctx, message)) => (Some(ctx.to_owned()), message.trim_start().to_owned()),
            None => (None, rest.to_owned()),
        };
        Some(LogLine {
            pid,
            level,
            ctx,
            message,
            raw: raw.to_owned(),
        })
    }

    /// The `req-<uuid>` in the context, if any.
    pub(crate) fn request_id(&self) -> Option<&str> {
        let ctx = self.ctx.as_deref()?;
        let start = ctx.find("req-")?;
        ctx[start..].split_whitespace().next()
    }

    /// The access-log part of the line, when it is one.
    pub(crate) fn access(&self) -> Option<Access> {
        Access::parse(&self.message)
    }
}

/// The oslo wsgi access line: `"GET /v1 HTTP/1.1" status: 200 len: 123 time: 0.001`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Access {
    /// The method.
    pub method: String,
    /// The request target.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// The response body length.
    pub len: u64,
}

impl Access {
    fn parse(message: &str) -> Option<Access> {
        let start = message.find('"')?;
        let (request, tail) = message[start + 1..].split_once('"')?;
        let mut parts = request.split(' ');
        let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
        let field = |name: &str| {
            let at = tail.find(name)? + name.len();
            tail[at..].split_whitespace().next()
        };
        tail.find("time: ")?;
        Some(Access {
            method,
            path,
            status: field("status: ")?.parse().ok()?,
            len: field("len: ")?.parse().ok()?,
        })
    }
}

/// The text of `path`, empty when it does not exist.
pub(crate) fn read_text(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    }
}

/// Every record in `text`.
pub(crate) fn parse_all(text: &str) -> Vec<LogLine> {
    text.lines().filter_map(LogLine::parse).collect()
}

/// Waits until each request id in `ids` has an access line among the lines
/// `read` returns (log writes of the last requests may still be landing),
/// then says how many each has, so a test can check "exactly once".
pub(crate) fn access_line_counts(
    ids: &[String],
    read: impl Fn() -> Vec<LogLine>,
) -> std::collections::BTreeMap<String, usize> {
    super::eventually::eventually("an access line for every request", || {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for line in read() {
            if let (Some(id), Some(_)) = (line.request_id(), line.access()) {
                *counts.entry(id.to_owned()).or_default() += 1;
            }
        }
        let missing = ids.iter().filter(|id| !counts.contains_key(*id)).count();
        super::eventually::ensure(missing == 0, || {
            format!("{missing} of {} request ids have no access line", ids.len())
        })
        .map(|()| counts)
    })
}
