//! The two line formats: oslo.log's text line and its JSON form.
//!
//! Both are pure functions of a [`LogRecord`], which carries its own timestamp
//! and pid, so tests format fixed records and get fixed lines.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tracing::Level;

/// One event, with everything either format needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogRecord {
    pub(crate) time: LocalTime,
    pub(crate) pid: u32,
    pub(crate) level: Level,
    /// The tracing target, `::`-separated.
    pub(crate) target: String,
    pub(crate) request_id: Option<String>,
    /// oslo.context's `user_identity`: `<user> <project> - - -`.
    pub(crate) user_identity: Option<String>,
    pub(crate) message: String,
    /// The event's other fields, in the order they were recorded.
    pub(crate) fields: Vec<(&'static str, FieldValue)>,
}

/// A field value, kept typed so JSON output keeps numbers and booleans.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    /// Anything recorded through `Debug` or `Display` (`?x`, `%x`, errors).
    Formatted(String),
}

/// A broken-down local time with millisecond precision and its UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalTime {
    pub(crate) year: i32,
    pub(crate) month: u8,
    pub(crate) day: u8,
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
    pub(crate) millis: u16,
    /// Seconds east of UTC.
    pub(crate) utc_offset: i32,
}

/// oslo.log's level names; tracing's TRACE has no Python counterpart.
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// Python logger names are dotted; operators grep for `pymsboot.api…`-like names.
fn logger_name(target: &str) -> String {
    target.replace("::", ".")
}

/// The text line, newline-terminated:
/// `2024-05-01 12:00:00.123 4242 INFO api.movies [req-… - - - - -] message key=value`.
///
/// Every line of a multi-line message gets the full prefix, as oslo does for
/// tracebacks, so each line still says where and when it came from.
pub(crate) fn text(record: &LogRecord) -> String {
    let context = match (&record.request_id, &record.user_identity) {
        (Some(id), Some(who)) => format!("{id} {who}"),
        (Some(id), None) => format!("{id} - - - - -"),
        (None, _) => "-".to_owned(),
    };
    let prefix = format!(
        "{} {} {} {} [{context}] ",
        record.time.text(),
        record.pid,
        level_name(record.level),
        logger_name(&record.target),
    );
    let mut line = String::with_capacity(prefix.len() + record.message.len() + 64);
    for (index, part) in record
        .message
        .trim_end_matches('\n')
        .split('\n')
        .enumerate()
    {
        if index > 0 {
            line.push('\n');
        }
        line.push_str(&prefix);
        line.push_str(part);
    }
    for (key, value) in &record.fields {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        push_text_value(&mut line, value);
    }
    line.push('\n');
    line
}

fn push_text_value(line: &mut String, value: &FieldValue) {
    // Writing into a String cannot fail.
    let _ = match value {
        FieldValue::Str(s) if needs_quotes(s) => write!(line, "{s:?}"),
        FieldValue::Str(s) | FieldValue::Formatted(s) => write!(line, "{s}"),
        FieldValue::I64(n) => write!(line, "{n}"),
        FieldValue::U64(n) => write!(line, "{n}"),
        FieldValue::F64(n) => write!(line, "{n}"),
        FieldValue::Bool(b) => write!(line, "{b}"),
    };
}

/// Quote a string value only where leaving it bare would make the
/// `key=value` list ambiguous to split.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=')
}

/// The JSON line, newline-terminated: one object with `timestamp`, `pid`,
/// `level`, `name`, `request_id`, `message` and the other fields under `extra`.
pub(crate) fn json(record: &LogRecord) -> String {
    let extra: Map<String, Value> = record
        .fields
        .iter()
        .map(|(key, value)| ((*key).to_owned(), json_value(value)))
        .collect();
    let mut object = Map::new();
    object.insert("timestamp".into(), record.time.rfc3339().into());
    object.insert("pid".into(), record.pid.into());
    object.insert("level".into(), level_name(record.level).into());
    object.insert("name".into(), logger_name(&record.target).into());
    object.insert("request_id".into(), record.request_id.clone().into());
    object.insert("user_identity".into(), record.user_identity.clone().into());
    object.insert("message".into(), record.message.clone().into());
    object.insert("extra".into(), Value::Object(extra));
    let mut line = Value::Object(object).to_string();
    line.push('\n');
    line
}

fn json_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::Str(s) | FieldValue::Formatted(s) => Value::from(s.as_str()),
        FieldValue::I64(n) => Value::from(*n),
        FieldValue::U64(n) => Value::from(*n),
        // NaN and infinities have no JSON form and become null.
        FieldValue::F64(n) => Value::from(*n),
        FieldValue::Bool(b) => Value::from(*b),
    }
}

impl LocalTime {
    /// The current wall-clock time in the process's time zone (`TZ`, else
    /// `/etc/localtime`), as oslo's `asctime` prints it.
    pub(crate) fn now() -> Self {
        // A clock before 1970 is a broken clock; printing the epoch says so.
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
        let millis = u16::try_from(since_epoch.subsec_millis()).unwrap_or(999);
        local::broken_down(secs)
            .unwrap_or_else(|| utc(secs))
            .with_millis(millis)
    }

    fn with_millis(self, millis: u16) -> Self {
        Self { millis, ..self }
    }

    /// `YYYY-MM-DD HH:MM:SS.mmm`, oslo's default `asctime` plus `msecs`.
    pub(crate) fn text(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }

    /// RFC 3339 with milliseconds and the numeric UTC offset.
    pub(crate) fn rfc3339(&self) -> String {
        let sign = if self.utc_offset < 0 { '-' } else { '+' };
        let offset_minutes = self.utc_offset.unsigned_abs() / 60;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.millis,
            offset_minutes / 60,
            offset_minutes % 60,
        )
    }
}

/// UTC from seconds since the epoch, for when the C library cannot tell the
/// local time (out-of-range `time_t`).
fn utc(secs: i64) -> LocalTime {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = crate::civil::civil_from_days(days);
    let year = i32::try_from(year).unwrap_or(i32::MAX);
    LocalTime {
        year,
        month,
        day,
        // of_day < 86_400, so each part fits.
        hour: u8::try_from(of_day / 3600).unwrap_or(0),
        minute: u8::try_from(of_day % 3600 / 60).unwrap_or(0),
        second: u8::try_from(of_day % 60).unwrap_or(0),
        millis: 0,
        utc_offset: 0,
    }
}

#[allow(unsafe_code)]
mod local {
    use std::mem::MaybeUninit;

    use super::LocalTime;

    /// The local broken-down time of `secs` since the epoch, via
    /// `localtime_r`: std has no time zone support, and the reentrant variant
    /// is safe to call from any worker thread.
    pub(super) fn broken_down(secs: i64) -> Option<LocalTime> {
        let time = libc::time_t::try_from(secs).ok()?;
        let mut tm = MaybeUninit::<libc::tm>::uninit();
        // SAFETY: both pointers are valid for the duration of the call;
        // localtime_r writes only into `tm` and returns null on failure.
        let result = unsafe { libc::localtime_r(&raw const time, tm.as_mut_ptr()) };
        if result.is_null() {
            return None;
        }
        // SAFETY: localtime_r returned non-null, so it filled every field.
        let tm = unsafe { tm.assume_init() };
        Some(LocalTime {
            year: tm.tm_year.checked_add(1900)?,
            month: u8::try_from(tm.tm_mon + 1).ok()?,
            day: u8::try_from(tm.tm_mday).ok()?,
            hour: u8::try_from(tm.tm_hour).ok()?,
            minute: u8::try_from(tm.tm_min).ok()?,
            // A leap second reads as 60, which both formats allow.
            second: u8::try_from(tm.tm_sec).ok()?,
            millis: 0,
            utc_offset: i32::try_from(tm.tm_gmtoff).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON: LocalTime = LocalTime {
        year: 2024,
        month: 5,
        day: 1,
        hour: 12,
        minute: 3,
        second: 4,
        millis: 56,
        utc_offset: 7200,
    };

    fn record(level: Level, request_id: Option<&str>, message: &str) -> LogRecord {
        LogRecord {
            time: NOON,
            pid: 4242,
            level,
            target: "api::controllers::movies".to_owned(),
            request_id: request_id.map(str::to_owned),
            user_identity: None,
            message: message.to_owned(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn a_text_line_without_request_has_a_dash_context() {
        let line = text(&record(Level::INFO, None, "listening on 0.0.0.0:9666"));
        assert_eq!(
            line,
            "2024-05-01 12:03:04.056 4242 INFO api.controllers.movies [-] listening on 0.0.0.0:9666\n"
        );
    }

    #[test]
    fn a_text_line_in_a_request_carries_the_oslo_user_identity_form() {
        let rid = "req-3f2a0c1e-1111-4222-8333-944445555666";
        let line = text(&record(Level::WARN, Some(rid), "slow"));
        assert_eq!(
            line,
            format!(
                "2024-05-01 12:03:04.056 4242 WARNING api.controllers.movies [{rid} - - - - -] slow\n"
            )
        );
    }

    #[test]
    fn levels_print_with_oslo_names_and_trace_prints_as_debug() {
        let names: Vec<_> = [
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::DEBUG,
            Level::TRACE,
        ]
        .into_iter()
        .map(level_name)
        .collect();
        assert_eq!(names, ["ERROR", "WARNING", "INFO", "DEBUG", "DEBUG"]);
    }

    #[test]
    fn fields_follow_the_message_and_ambiguous_strings_are_quoted() {
        let mut rec = record(Level::DEBUG, None, "created");
        rec.fields = vec![
            ("movie_id", FieldValue::Str("0b7c".into())),
            ("name", FieldValue::Str("Blade Runner".into())),
            ("empty", FieldValue::Str(String::new())),
            ("rank", FieldValue::I64(-3)),
            ("size", FieldValue::U64(7)),
            ("ratio", FieldValue::F64(0.5)),
            ("ok", FieldValue::Bool(true)),
            ("error", FieldValue::Formatted("disk full".into())),
        ];
        assert!(text(&rec).ends_with(
            "[-] created movie_id=0b7c name=\"Blade Runner\" empty=\"\" rank=-3 size=7 ratio=0.5 ok=true error=disk full\n"
        ));
    }

    #[test]
    fn every_line_of_a_multi_line_message_gets_the_prefix() {
        let line = text(&record(Level::ERROR, None, "first\nsecond\n"));
        let prefix = "2024-05-01 12:03:04.056 4242 ERROR api.controllers.movies [-] ";
        assert_eq!(line, format!("{prefix}first\n{prefix}second\n"));
    }

    #[test]
    fn a_json_line_has_the_documented_keys() {
        let mut rec = record(Level::INFO, Some("req-1"), "hello");
        rec.fields = vec![
            ("count", FieldValue::U64(3)),
            ("who", FieldValue::Str("me".into())),
        ];
        let line = json(&rec);
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        let value: Value = serde_json::from_str(&line).expect("the formatter emits valid JSON");
        assert_eq!(
            value,
            serde_json::json!({
                "timestamp": "2024-05-01T12:03:04.056+02:00",
                "pid": 4242,
                "level": "INFO",
                "name": "api.controllers.movies",
                "request_id": "req-1",
                "user_identity": null,
                "message": "hello",
                "extra": {"count": 3, "who": "me"},
            })
        );
    }

    #[test]
    fn a_json_line_without_request_has_a_null_request_id() {
        let value: Value =
            serde_json::from_str(&json(&record(Level::DEBUG, None, "x"))).expect("valid JSON");
        assert_eq!(value["request_id"], Value::Null);
        assert_eq!(value["extra"], serde_json::json!({}));
    }

    #[test]
    fn rfc3339_prints_negative_and_fractional_offsets() {
        let newfoundland = LocalTime {
            utc_offset: -(3 * 3600 + 30 * 60),
            ..NOON
        };
        assert_eq!(newfoundland.rfc3339(), "2024-05-01T12:03:04.056-03:30");
        let utc = LocalTime {
            utc_offset: 0,
            ..NOON
        };
        assert_eq!(utc.rfc3339(), "2024-05-01T12:03:04.056+00:00");
    }

    #[test]
    fn the_utc_fallback_computes_calendar_dates() {
        assert_eq!(utc(0).text(), "1970-01-01 00:00:00.000");
        // 2000-02-29 was a leap day; 951_782_400 is its midnight.
        assert_eq!(utc(951_782_400 + 3661).text(), "2000-02-29 01:01:01.000");
        assert_eq!(utc(-1).text(), "1969-12-31 23:59:59.000");
    }

    #[test]
    fn local_time_agrees_with_utc_after_removing_the_offset() {
        let secs = 1_714_564_984; // 2024-05-01 12:03:04 UTC
        let local = local::broken_down(secs).expect("localtime_r handles 2024");
        let back = utc(secs + i64::from(local.utc_offset));
        assert_eq!(local, back);
    }
}
