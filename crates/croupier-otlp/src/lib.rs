//! Exports Croupier's spans to an OpenTelemetry collector over OTLP/HTTP.
//!
//! Croupier carries its trace context itself, as W3C `traceparent` strings
//! (`croupier_core::trace`), through requests, store transactions, the
//! outbox, the bus and the consumers, and records each finished span. This
//! crate turns those records into OpenTelemetry span data and hands them to
//! the SDK's batch processor, whose exporter sends them from its own thread.
//! A full queue drops spans, never slows a request.

use croupier_core::trace::{self, SpanKind, SpanRecord};
use opentelemetry::trace::{SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct OtlpOptions {
    /// The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: String,
    /// Protobuf (the OTLP default) or JSON.
    pub json: bool,
    /// `service.name` of the resource.
    pub service_name: String,
    /// `service.instance.id` of the resource.
    pub instance: String,
    /// Share of traces exported, 0–1, decided by trace id so every instance
    /// keeps or drops the same traces whole.
    pub sample_ratio: f64,
    /// Longest wait for one export request.
    pub timeout: Duration,
    /// Spans held for export at most; more are dropped.
    pub max_queue: usize,
}

/// The installed exporter; [`Otlp::shutdown`] flushes what is queued.
pub struct Otlp {
    processor: Arc<BatchSpanProcessor>,
}

impl Otlp {
    /// Builds the exporter and installs it as the process's span sink.
    /// Fails on a bad endpoint, or if an exporter is installed already.
    pub fn install(opts: &OtlpOptions) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&opts.sample_ratio) {
            return Err(format!(
                "sample ratio {} is not within 0-1",
                opts.sample_ratio
            ));
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(opts.endpoint.as_str())
            .with_protocol(if opts.json {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            })
            .with_timeout(opts.timeout)
            .build()
            .map_err(|e| format!("OTLP exporter for {}: {e}", opts.endpoint))?;
        let mut processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(opts.max_queue.max(1))
                    .with_scheduled_delay(Duration::from_secs(1))
                    .build(),
            )
            .build();
        processor.set_resource(
            &Resource::builder_empty()
                .with_service_name(opts.service_name.clone())
                .with_attributes([
                    KeyValue::new("service.instance.id", opts.instance.clone()),
                    KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                ])
                .build(),
        );
        let processor = Arc::new(processor);
        let sink = processor.clone();
        let scope = InstrumentationScope::builder("croupier")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let ratio = opts.sample_ratio;
        let installed = trace::set_exporter(move |span| {
            if let Some(data) = span_data(&span, ratio, &scope) {
                sink.on_end(data);
            }
        });
        if !installed {
            return Err("a span exporter is installed already".into());
        }
        Ok(Self { processor })
    }

    /// Sends what is queued and stops the export thread (at shutdown).
    pub fn shutdown(&self) {
        if let Err(e) = self.processor.shutdown_with_timeout(Duration::from_secs(5)) {
            tracing::warn!(error = %e, "OTLP exporter did not flush cleanly");
        }
    }
}

/// Whether the trace `trace_id` (32 hex digits) is kept at `ratio`: the
/// same answer on every instance, so sampled traces stay whole.
pub fn sampled(trace_id: &str, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let low = trace_id
        .get(16..)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    (low as f64) < ratio * (u64::MAX as f64)
}

/// The SDK's form of a recorded span; `None` if it is not sampled or its
/// context is not a valid `traceparent`.
fn span_data(span: &SpanRecord, ratio: f64, scope: &InstrumentationScope) -> Option<SpanData> {
    let (trace_id, span_id) = ids(&span.traceparent)?;
    if !sampled(&format!("{trace_id:032x}"), ratio) {
        return None;
    }
    let parent = span.parent.as_deref().and_then(ids);
    Some(SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: parent.map_or(SpanId::INVALID, |(_, s)| s),
        parent_span_is_remote: false,
        span_kind: match span.kind {
            SpanKind::Server => opentelemetry::trace::SpanKind::Server,
            SpanKind::Internal => opentelemetry::trace::SpanKind::Internal,
            SpanKind::Client => opentelemetry::trace::SpanKind::Client,
            SpanKind::Producer => opentelemetry::trace::SpanKind::Producer,
            SpanKind::Consumer => opentelemetry::trace::SpanKind::Consumer,
        },
        name: span.name.clone().into(),
        start_time: span.start,
        end_time: span.end,
        attributes: span
            .attributes
            .iter()
            .map(|(k, v)| KeyValue::new(*k, v.clone()))
            .collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: if span.error {
            Status::error("")
        } else {
            Status::Unset
        },
        instrumentation_scope: scope.clone(),
    })
}

fn ids(traceparent: &str) -> Option<(TraceId, SpanId)> {
    let trace = TraceId::from_hex(trace::trace_id(traceparent)?).ok()?;
    let span = SpanId::from_hex(trace::span_id(traceparent)?).ok()?;
    Some((trace, span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_keep_their_ids_and_parent() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let own = trace::child_of(Some(parent));
        let now = std::time::SystemTime::now();
        let record = SpanRecord {
            name: "POST /v1/games/{game}/bets".into(),
            traceparent: own.clone(),
            parent: Some(parent.into()),
            kind: SpanKind::Server,
            start: now,
            end: now + Duration::from_millis(3),
            attributes: vec![("http.route", "/v1/games/{game}/bets".into())],
            error: true,
        };
        let scope = InstrumentationScope::builder("test").build();
        let data = span_data(&record, 1.0, &scope).unwrap();
        assert_eq!(
            format!("{:032x}", data.span_context.trace_id()),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            format!("{:016x}", data.span_context.span_id()),
            trace::span_id(&own).unwrap()
        );
        assert_eq!(format!("{:016x}", data.parent_span_id), "00f067aa0ba902b7");
        assert_eq!(data.span_kind, opentelemetry::trace::SpanKind::Server);
        assert!(matches!(data.status, Status::Error { .. }));
        assert_eq!(
            data.end_time.duration_since(data.start_time).unwrap(),
            Duration::from_millis(3)
        );

        let root = SpanRecord {
            parent: None,
            ..record.clone()
        };
        assert_eq!(
            span_data(&root, 1.0, &scope).unwrap().parent_span_id,
            SpanId::INVALID
        );
        let junk = SpanRecord {
            traceparent: "nonsense".into(),
            ..record
        };
        assert!(span_data(&junk, 1.0, &scope).is_none());
    }

    #[test]
    fn sampling_keeps_whole_traces_at_about_the_ratio() {
        let ids: Vec<String> = (0..4000)
            .map(|_| trace::trace_id(&trace::child_of(None)).unwrap().to_owned())
            .collect();
        let kept = ids.iter().filter(|t| sampled(t, 0.25)).count();
        assert!((800..1200).contains(&kept), "{kept} of 4000 kept at 0.25");
        assert!(ids.iter().all(|t| sampled(t, 1.0)));
        assert!(!ids.iter().any(|t| sampled(t, 0.0)));
        // The decision depends on the trace id alone.
        assert!(ids.iter().all(|t| sampled(t, 0.25) == sampled(t, 0.25)));
    }
}
