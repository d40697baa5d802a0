//! Event provenance: which instance produced an event, and the W3C trace
//! context (`traceparent`) of the request or event that caused it.
//!
//! Stores stamp both on every outbox row they write. The trace context is
//! ambient rather than a parameter of every command: the API runs each
//! request inside [`scope`], a consumer runs each delivery inside the scope of
//! the event it handles, and a store reads [`current`] where it writes the
//! row. Work that leaves the task (the SQLite writer thread, PostgreSQL bet
//! lanes) captures [`current`] when it is queued and re-enters it with
//! [`scope_sync`] or [`scope`].

use rand::RngCore;
use std::cell::RefCell;
use std::future::Future;
use std::sync::OnceLock;

static INSTANCE: OnceLock<String> = OnceLock::new();

/// Names this process in the events it produces. Only the first call counts
/// (returns `false` after that); without one, [`instance`] is
/// `<hostname>-<pid>`.
pub fn set_instance(id: impl Into<String>) -> bool {
    INSTANCE.set(id.into()).is_ok()
}

/// This process's name in the events it produces.
pub fn instance() -> &'static str {
    INSTANCE.get_or_init(default_instance)
}

fn default_instance() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "croupier".into());
    format!("{host}-{}", std::process::id())
}

/// Whether `id` is a valid instance name: 1–64 characters of
/// `A-Za-z0-9._-`.
pub fn valid_instance(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

tokio::task_local! {
    static TASK_TRACE: Option<String>;
}

thread_local! {
    static THREAD_TRACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The trace context in effect: the task's, else the thread's (inside
/// [`scope_sync`]), else none.
pub fn current() -> Option<String> {
    TASK_TRACE
        .try_with(|t| t.clone())
        .ok()
        .flatten()
        .or_else(|| THREAD_TRACE.with(|t| t.borrow().clone()))
}

/// Runs `f` with `traceparent` as the task's trace context.
pub async fn scope<F: Future>(traceparent: Option<String>, f: F) -> F::Output {
    TASK_TRACE.scope(traceparent, f).await
}

/// Runs `f` on this thread with `traceparent` as its trace context (for work
/// queued to another thread, like the SQLite writer).
pub fn scope_sync<R>(traceparent: Option<String>, f: impl FnOnce() -> R) -> R {
    let previous = THREAD_TRACE.with(|t| t.replace(traceparent));
    // Restored even if `f` panics (the writer catches panics per job).
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            THREAD_TRACE.with(|t| *t.borrow_mut() = previous);
        }
    }
    let _restore = Restore(previous);
    f()
}

/// The parts of a valid `traceparent` (version 00): trace id and flags.
fn parse(header: &str) -> Option<(&str, &str)> {
    let mut parts = header.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    (parts.next().is_none()
        && version == "00"
        && hex(trace, 32)
        && nonzero(trace)
        && hex(span, 16)
        && nonzero(span)
        && hex(flags, 2))
    .then_some((trace, flags))
}

/// The trace id of a `traceparent`, if it is valid.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    parse(traceparent).map(|(t, _)| t)
}

/// A new span's `traceparent`: a child of `parent` when it is a valid W3C
/// trace context (same trace id and flags, a new span id), else the root of
/// a new, sampled trace.
pub fn child_of(parent: Option<&str>) -> String {
    let mut rng = rand::thread_rng();
    let mut span = [0u8; 8];
    rng.fill_bytes(&mut span);
    span[0] |= 1; // never all zeros
    let span = hex(&span);
    match parent.and_then(parse) {
        Some((trace, flags)) => format!("00-{trace}-{span}-{flags}"),
        None => {
            let mut trace = [0u8; 16];
            rng.fill_bytes(&mut trace);
            trace[0] |= 1;
            format!("00-{}-{span}-01", hex(&trace))
        }
    }
}

/// The span id of a valid `traceparent`.
pub fn span_id(traceparent: &str) -> Option<&str> {
    parse(traceparent)?;
    traceparent.trim().split('-').nth(2)
}

/// A finished span, handed to the exporter if one is installed (OTLP, see
/// the `croupier` binary's `[telemetry]`). Spans are only recorded: the
/// context that flows through requests, stores and events is the
/// `traceparent` string above, so this crate needs no tracing SDK.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    pub name: String,
    /// This span's context (its trace and span id).
    pub traceparent: String,
    /// The parent span's context; `None` for a root span.
    pub parent: Option<String>,
    pub kind: SpanKind,
    pub start: std::time::SystemTime,
    pub end: std::time::SystemTime,
    pub attributes: Vec<(&'static str, String)>,
    pub error: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Server,
    Internal,
    Client,
    Producer,
    Consumer,
}

type Exporter = Box<dyn Fn(SpanRecord) + Send + Sync>;
static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// Installs the process's span exporter; only the first call counts.
pub fn set_exporter(f: impl Fn(SpanRecord) + Send + Sync + 'static) -> bool {
    EXPORTER.set(Box::new(f)).is_ok()
}

/// Whether spans are exported (callers may skip building them otherwise).
pub fn exporting() -> bool {
    EXPORTER.get().is_some()
}

/// Hands a finished span to the exporter, if any.
pub fn record(span: SpanRecord) {
    if let Some(export) = EXPORTER.get() {
        export(span);
    }
}

/// Records a span that ran from `start` until now as a child of `parent`
/// (when exporting). For work whose context is already set, like a store
/// transaction inside a request's scope.
pub fn record_child(
    name: impl Into<String>,
    kind: SpanKind,
    parent: Option<&str>,
    start: std::time::SystemTime,
    attributes: Vec<(&'static str, String)>,
    error: bool,
) {
    if !exporting() {
        return;
    }
    record(SpanRecord {
        name: name.into(),
        traceparent: child_of(parent),
        parent: parent.map(str::to_owned),
        kind,
        start,
        end: std::time::SystemTime::now(),
        attributes,
        error,
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_keep_the_trace_and_roots_start_one() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let child = child_of(Some(parent));
        assert_eq!(trace_id(&child), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_ne!(child, parent, "a new span id");
        let root = child_of(None);
        assert!(trace_id(&root).is_some(), "{root}");
        assert_ne!(trace_id(&root), trace_id(&child_of(None)));
        // Invalid parents start a new trace rather than propagate garbage.
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert_eq!(trace_id(bad), None, "{bad}");
            assert_ne!(
                trace_id(&child_of(Some(bad))),
                Some("4bf92f3577b34da6a3ce929d0e0e4736")
            );
        }
    }

    #[tokio::test]
    async fn the_context_follows_tasks_and_threads() {
        assert_eq!(current(), None);
        let tp = child_of(None);
        let seen = scope(Some(tp.clone()), async { current() }).await;
        assert_eq!(seen, Some(tp.clone()));
        assert_eq!(current(), None, "scoped to the future");
        let on_thread = std::thread::spawn(move || {
            let inside = scope_sync(Some(tp.clone()), current);
            (inside, current())
        })
        .join()
        .unwrap();
        assert_eq!(
            on_thread.0.as_deref().and_then(trace_id),
            trace_id(&seen.unwrap())
        );
        assert_eq!(on_thread.1, None, "restored after the job");
    }

    #[test]
    fn instance_names_are_bounded() {
        assert!(valid_instance("api-1.eu-west-1a"));
        assert!(!valid_instance(""));
        assert!(!valid_instance("has space"));
        assert!(!valid_instance(&"x".repeat(65)));
        assert!(!instance().is_empty());
    }
}
