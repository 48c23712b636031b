import CoreMetrics
import Foundation
import Metrics
import Prometheus
import RankdCore
import Synchronization

/// rankd's metrics: swift-metrics instruments made by a Prometheus factory over a registry owned by
/// this object (not the process-global one), so every application, and every test, has its own.
/// The names are listed in `docs/metrics.md`.
public final class RankdMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    /// HTTP instruments by route, method and status: made once, since making one looks it up in
    /// the registry under a lock, too slow for every request.
    private let httpInstruments = Mutex<[String: (CoreMetrics.Counter, Metrics.Timer)]>([:])
    /// `rankd_endpoint_demoted` gauges and the value each was last set to.
    private let demotedGauges = Mutex<[DemotedKey: (gauge: CoreMetrics.Gauge, value: Double)]>([:])

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10),
        ]
        self.factory = factory
        // Series that alerts take rate() or increase() of exist from the start, at 0, so the first
        // failure or refusal counts (a series born at 1 has no increase to show).
        Counter(label: "rankd_publish_failures_total", factory: factory).increment(by: 0)
        for reason in ["unauthorized", "too_large", "queue_full"] {
            Counter(label: "rankd_ingest_refused_total", dimensions: [("reason", reason)], factory: factory).increment(by: 0)
        }
        Gauge(label: "rankd_probe_budget_exhausted_endpoints", factory: factory).record(0)
    }

    /// Epochs computed, by trigger.
    public func epochComputed(trigger: String, duration: Duration) {
        Counter(label: "rankd_epochs_total", dimensions: [("trigger", trigger)], factory: factory).increment()
        Metrics.Timer(label: "rankd_epoch_duration_seconds", dimensions: [], factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    /// The epoch now served: its id and time, how many endpoints it ranks and demotes, and each
    /// endpoint's demoted flag (1 or 0, for alerts that name the endpoint).
    /// `rankd_leader`: 1 on the replica that computes and publishes (a single node too), 0 on a follower.
    public func clusterRole(leader: Bool) {
        Gauge(label: "rankd_leader", factory: factory).record(leader ? 1 : 0)
    }

    /// How far a replica is behind: shared-log rows not yet counted, epochs not yet served.
    public func clusterLag(logRows: Int64, epochs: Int64) {
        Gauge(label: "rankd_cluster_log_lag_rows", factory: factory).record(Double(logRows))
        Gauge(label: "rankd_cluster_epochs_behind", factory: factory).record(Double(epochs))
    }

    public func currentEpoch(_ epoch: Epoch) {
        // Walked in place: a flattened copy of the entries would be one more registry-sized array.
        var endpoints = 0
        var demoted = 0
        for model in epoch.models {
            endpoints += model.endpoints.count
            for entry in model.endpoints where entry.status == .demoted { demoted += 1 }
        }
        Gauge(label: "rankd_current_epoch_id", factory: factory).record(Double(epoch.id))
        Gauge(label: "rankd_last_epoch_timestamp_seconds", factory: factory).record(epoch.computedAt.secondsSince1970)
        Gauge(label: "rankd_demoted_endpoints", factory: factory).record(Double(demoted))
        Gauge(label: "rankd_endpoints", factory: factory).record(Double(endpoints))
        // A gauge per endpoint that has been demoted since start (1 while demoted, then 0), made
        // once and set only when its value changes: making or looking up a labelled gauge per
        // endpoint at every epoch costs the registry a lookup each (a busy daemon's CPU), and
        // making them all at once is slow (the registry copies its table per new series). Alerts
        // ask for `== 1`, which needs no zero series.
        demotedGauges.withLock { gauges in
            for ranking in epoch.models {
                let model = ranking.model
                for entry in ranking.endpoints {
                    let value = entry.status == .demoted ? 1.0 : 0.0
                    let key = DemotedKey(endpointID: entry.endpointID, model: model, provider: entry.provider)
                    if let known = gauges[key] {
                        guard known.value != value else { continue }
                        known.gauge.record(value)
                        gauges[key]?.value = value
                    } else if value == 1 {
                        let gauge = Gauge(
                            label: "rankd_endpoint_demoted",
                            dimensions: [("endpoint_id", entry.endpointID), ("model", model), ("provider", entry.provider)],
                            factory: factory)
                        gauge.record(value)
                        gauges[key] = (gauge, value)
                    }
                }
            }
        }
    }

    struct DemotedKey: Hashable {
        var endpointID: String
        var model: String
        var provider: String
    }

    /// Tallies the windows hold in memory: minute tallies (the short window's) and span tallies
    /// (an hour each, the rest of the long window). Memory grows with these.
    public func windowTallies(minutes: Int, spans: Int, totalBytes: Int) {
        Gauge(label: "rankd_window_tallies", dimensions: [("kind", "minute")], factory: factory).record(Double(minutes))
        Gauge(label: "rankd_window_tallies", dimensions: [("kind", "span")], factory: factory).record(Double(spans))
        Gauge(label: "rankd_window_total_bytes", factory: factory).record(Double(totalBytes))
    }

    /// The configured epoch interval (alerts compare the last epoch's age with it).
    /// One configuration reload: applied, or refused (nothing changed).
    public func configReload(failed: Bool) {
        if failed {
            Counter(label: "rankd_config_reload_failures_total", factory: factory).increment()
        } else {
            Counter(label: "rankd_config_reloads_total", factory: factory).increment()
        }
    }

    public func epochInterval(seconds: Double) {
        Gauge(label: "rankd_epoch_interval_seconds", factory: factory).record(seconds)
    }

    /// One finished probe: by provider and outcome, with its estimated cost, and how many
    /// endpoints have spent their daily probe budget.
    public func probeFinished(provider: String, outcome: String, costUSD: Double, budgetExhaustedEndpoints: Int) {
        Counter(label: "rankd_probes_total", dimensions: [("provider", provider), ("outcome", outcome)], factory: factory).increment()
        FloatingPointCounter(label: "rankd_probe_cost_usd_total", dimensions: [("provider", provider)], factory: factory).increment(
            by: costUSD)
        Gauge(label: "rankd_probe_budget_exhausted_endpoints", factory: factory).record(Double(budgetExhaustedEndpoints))
    }

    /// A new demotion started, by reason code.
    public func demotion(reason: String) {
        Counter(label: "rankd_demotions_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    public func fastPathTrigger(reason: String) {
        Counter(label: "rankd_fast_path_triggers_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// Observations offered to the engine, by source and result (`accepted`, `too_old`, `unknown_endpoint`).
    public func observations(source: String, result: String, count: Int = 1) {
        Counter(label: "rankd_observations_total", dimensions: [("source", source), ("result", result)], factory: factory).increment(
            by: count)
    }

    /// Telemetry records (`/v1/telemetry`) or spans (`/v1/traces`) by result: `accepted`,
    /// `duplicate`, `rejected`, `ignored` (spans that are not GenAI).
    public func ingestRecords(api: String, result: String, count: Int) {
        guard count > 0 else { return }
        Counter(label: "rankd_ingest_records_total", dimensions: [("api", api), ("result", result)], factory: factory).increment(by: count)
    }

    /// Ingest requests refused before reading, by reason (`queue_full`, `too_large`, `unauthorized`).
    public func ingestRefused(reason: String) {
        Counter(label: "rankd_ingest_refused_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// One group commit: its duration and how many records it wrote.
    public func ingestCommit(duration: Duration, records: Int) {
        Metrics.Timer(label: "rankd_ingest_commit_duration_seconds", dimensions: [], factory: factory).recordNanoseconds(
            duration.nanoseconds)
        Recorder(label: "rankd_ingest_commit_records", dimensions: [], aggregate: false, factory: factory).record(records)
    }

    /// Records waiting for the writer, request ids kept, and the dedupe window in force.
    public func ingestState(queuedRecords: Int, dedupeKeys: Int, dedupeWindowSeconds: Double) {
        Gauge(label: "rankd_ingest_queue_records", factory: factory).record(Double(queuedRecords))
        Gauge(label: "rankd_ingest_dedupe_keys", factory: factory).record(Double(dedupeKeys))
        Gauge(label: "rankd_ingest_dedupe_window_seconds", factory: factory).record(dedupeWindowSeconds)
    }

    public func publishFailure() {
        Counter(label: "rankd_publish_failures_total", factory: factory).increment()
    }

    public func httpRequest(route: String, method: String, status: Int, duration: Duration) {
        let (counter, timer) = httpInstruments(route: route, method: method, status: status)
        counter.increment()
        timer.recordNanoseconds(duration.nanoseconds)
    }

    /// The request counter and timer of one route, method and status (made once).
    func httpInstruments(route: String, method: String, status: Int) -> (CoreMetrics.Counter, Metrics.Timer) {
        let key = "\(route) \(method) \(status)"
        return httpInstruments.withLock { instruments in
            if let made = instruments[key] { return made }
            let made = (
                Counter(
                    label: "rankd_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))],
                    factory: factory),
                Metrics.Timer(label: "rankd_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            )
            instruments[key] = made
            return made
        }
    }

    /// Prometheus text exposition of everything recorded.
    public func exposition() -> String { registry.emitToString() }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
