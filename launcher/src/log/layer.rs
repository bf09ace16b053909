//! The tracing layer that turns events into [`LogRecord`]s for the sinks, and
//! remembers which spans carry a `request_id` and a `user_identity`.

use std::fmt;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::format::{FieldValue, LocalTime, LogRecord};
use super::reopen::Sinks;

/// The field name that puts a span (or an event) in a request's context.
const REQUEST_ID: &str = "request_id";
/// The field that names the caller, oslo.context's `user_identity`
/// (`<user> <project> <domain> <user_domain> <project_domain>`).
const USER_IDENTITY: &str = "user_identity";
/// The field tracing's macros store the formatted message in.
const MESSAGE: &str = "message";

/// Writes every enabled event to the [`Sinks`] in oslo.log's format.
pub(crate) struct OsloLayer {
    sinks: Arc<Sinks>,
}

impl OsloLayer {
    pub(crate) fn new(sinks: Arc<Sinks>) -> Self {
        Self { sinks }
    }
}

/// Stored in a span's extensions when the span has a `request_id`.
struct RequestId(String);

/// Stored in a span's extensions when the span has a `user_identity`.
struct UserIdentity(String);

impl<S> Layer<S> for OsloLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut visitor = ScopeVisitor::default();
        attrs.record(&mut visitor);
        visitor.remember(id, &ctx);
    }

    // A span may declare `request_id = field::Empty` and fill it in once the
    // id is known (after parsing the RPC context, say).
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut visitor = ScopeVisitor::default();
        values.record(&mut visitor);
        visitor.remember(id, &ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let request_id = fields
            .request_id
            .take()
            .or_else(|| scope_value(event, &ctx, |RequestId(id)| id));
        let user_identity = fields
            .user_identity
            .take()
            .or_else(|| scope_value(event, &ctx, |UserIdentity(who)| who));
        let metadata = event.metadata();
        self.sinks.write(&LogRecord {
            time: LocalTime::now(),
            // Read per record: forked workers inherit this subscriber and must
            // print their own pid, not the master's.
            pid: std::process::id(),
            level: *metadata.level(),
            target: metadata.target().to_owned(),
            request_id,
            user_identity,
            message: fields.message,
            fields: fields.others,
        });
    }
}

fn remember<S, T: Send + Sync + 'static>(value: T, id: &Id, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(span) = ctx.span(id) {
        span.extensions_mut().replace(value);
    }
}

/// The value `get` reads from the innermost span around `event` that has a `T`.
fn scope_value<S, T: 'static>(
    event: &Event<'_>,
    ctx: &Context<'_, S>,
    get: impl Fn(&T) -> &String,
) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope(event)?
        .find_map(|span| span.extensions().get::<T>().map(|value| get(value).clone()))
}

/// A span's `request_id` and `user_identity`, when it records them.
#[derive(Default)]
struct ScopeVisitor {
    request_id: Option<String>,
    user_identity: Option<String>,
}

impl ScopeVisitor {
    fn remember<S>(self, id: &Id, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if let Some(request_id) = self.request_id {
            remember(RequestId(request_id), id, ctx);
        }
        if let Some(user_identity) = self.user_identity {
            remember(UserIdentity(user_identity), id, ctx);
        }
    }

    fn set(&mut self, field: &Field, value: String) {
        match field.name() {
            REQUEST_ID => self.request_id = Some(value),
            USER_IDENTITY => self.user_identity = Some(value),
            _ => {}
        }
    }
}

impl Visit for ScopeVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), REQUEST_ID | USER_IDENTITY) {
            self.set(field, format!("{value:?}"));
        }
    }
}

/// An event's message, its own `request_id` (which wins over the spans'), and
/// every other field.
#[derive(Default)]
struct EventFields {
    message: String,
    request_id: Option<String>,
    user_identity: Option<String>,
    others: Vec<(&'static str, FieldValue)>,
}

impl EventFields {
    fn push(&mut self, field: &Field, value: FieldValue) {
        self.others.push((field.name(), value));
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            MESSAGE => value.clone_into(&mut self.message),
            REQUEST_ID => self.request_id = Some(value.to_owned()),
            USER_IDENTITY => self.user_identity = Some(value.to_owned()),
            _ => self.push(field, FieldValue::Str(value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `format_args!` debug-prints without quotes, so a message stays as written.
        let formatted = format!("{value:?}");
        match field.name() {
            MESSAGE => self.message = formatted,
            REQUEST_ID => self.request_id = Some(formatted),
            USER_IDENTITY => self.user_identity = Some(formatted),
            _ => self.push(field, FieldValue::Formatted(formatted)),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use tracing::{debug, info, info_span, warn};

    use super::super::{LogSettings, build};

    fn scratch_log(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("launcher-layer-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("the temp dir is writable");
        dir.join("svc.log")
    }

    fn settings(path: &Path) -> LogSettings {
        LogSettings {
            log_file: Some(path.to_owned()),
            ..LogSettings::default()
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn cleanup(path: &Path) {
        if let Some(dir) = path.parent() {
            fs::remove_dir_all(dir).expect("cleanup");
        }
    }

    #[test]
    fn a_span_with_a_request_id_puts_its_events_in_that_request() {
        let path = scratch_log("span");
        let (subscriber, _handle) = build(&settings(&path), "svc").expect("open");
        tracing::subscriber::with_default(subscriber, || {
            info!(target: "api", "outside");
            let request = info_span!("request", request_id = "req-42");
            let _entered = request.enter();
            let inner = info_span!("db", table = "movies");
            let _inner = inner.enter();
            info!(target: "api::movies", movie_id = "m1", "inside");
        });
        let lines = lines(&path);
        assert!(lines[0].ends_with(" INFO api [-] outside"), "{}", lines[0]);
        assert!(
            lines[1].ends_with(" INFO api.movies [req-42 - - - - -] inside movie_id=m1"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(&format!(" {} INFO ", std::process::id())));
        cleanup(&path);
    }

    #[test]
    fn a_request_id_recorded_later_and_one_on_the_event_both_count() {
        let path = scratch_log("record");
        let (subscriber, _handle) = build(&settings(&path), "svc").expect("open");
        tracing::subscriber::with_default(subscriber, || {
            let span = info_span!("call", request_id = tracing::field::Empty);
            let _entered = span.enter();
            span.record("request_id", "req-late");
            warn!(target: "rpc", "in span");
            warn!(target: "rpc", request_id = %"req-own", "own id");
        });
        let lines = lines(&path);
        assert!(
            lines[0].ends_with("[req-late - - - - -] in span"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with("[req-own - - - - -] own id"),
            "{}",
            lines[1]
        );
        cleanup(&path);
    }

    #[test]
    fn the_caller_recorded_on_a_request_span_follows_its_request_id() {
        let path = scratch_log("caller");
        let (subscriber, _handle) = build(&settings(&path), "svc").expect("open");
        tracing::subscriber::with_default(subscriber, || {
            let span = info_span!(
                "request",
                request_id = "req-7",
                user_identity = tracing::field::Empty
            );
            let _entered = span.enter();
            info!(target: "api", "before");
            span.record("user_identity", "u1 p1 - - -");
            let inner = info_span!("call", method = "get_movie");
            let _inner = inner.enter();
            info!(target: "api", "after");
        });
        let lines = lines(&path);
        assert!(
            lines[0].ends_with("[req-7 - - - - -] before"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with("[req-7 u1 p1 - - -] after"),
            "{}",
            lines[1]
        );
        cleanup(&path);
    }

    #[test]
    fn apply_turns_debug_on_at_once() {
        let path = scratch_log("apply");
        let mut settings = settings(&path);
        let (subscriber, handle) = build(&settings, "svc").expect("open");
        tracing::subscriber::with_default(subscriber, || {
            debug!(target: "engine", "hidden");
            settings.debug = true;
            handle.apply(&settings).expect("same file");
            debug!(target: "engine", "shown");
            debug!(target: "sqlx::query", "still hidden");
        });
        let lines = lines(&path);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].ends_with(" DEBUG engine [-] shown"),
            "{}",
            lines[0]
        );
        cleanup(&path);
    }
}
