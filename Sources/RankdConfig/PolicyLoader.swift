import Foundation
import RankdCore
import Yams

/// Reads `scoring/policy.yaml`. Every key is optional; a missing one keeps the built-in default.
public enum PolicyLoader {
    public static func load(path: String, problems: ProblemList) -> Policy {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            problems.add(
                ConfigProblem(file: path, path: "", message: "cannot be read; fix policy_file or remove it to use the built-in policy"))
            return .default
        }
        return parse(yaml: text, file: path, problems: problems)
    }

    public static func parse(yaml: String, file: String, problems: ProblemList) -> Policy {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            problems.add(ConfigProblem(file: file, path: "", message: "is not valid YAML: \(error)"))
            return .default
        }
        let fields = YAMLFields(root, file: file, path: "", problems: problems)
        var policy = Policy()
        let unit = 0.0...1.0
        let version = fields.int("version", default: 1, range: 1...1)
        _ = version

        let weights = fields.fields("weights")
        policy.weights.toolCallSuccess = weights.double("tool_call_success", default: policy.weights.toolCallSuccess, range: 0...100)
        policy.weights.reliability = weights.double("reliability", default: policy.weights.reliability, range: 0...100)
        policy.weights.throughput = weights.double("throughput", default: policy.weights.throughput, range: 0...100)
        policy.weights.latency = weights.double("latency", default: policy.weights.latency, range: 0...100)
        policy.weights.benchmark = weights.double("benchmark", default: policy.weights.benchmark, range: 0...100)
        weights.finish()

        let windows = fields.fields("windows")
        policy.windows.shortSeconds = windows.double(
            "short_seconds", default: policy.windows.shortSeconds, range: 60...86_400, unit: "seconds")
        policy.windows.longSeconds = windows.double(
            "long_seconds", default: policy.windows.longSeconds, range: 60...604_800, unit: "seconds")
        policy.windows.shortWeight = windows.double("short_weight", default: policy.windows.shortWeight, range: unit)
        windows.finish()

        let sources = fields.fields("sources")
        policy.sources.probeWeight = sources.double("probe_weight", default: policy.sources.probeWeight, range: 0...100)
        policy.sources.liveWeight = sources.double("live_weight", default: policy.sources.liveWeight, range: 0...100)
        sources.finish()

        let priors = fields.fields("priors")
        policy.priors.strength = priors.double("strength", default: policy.priors.strength, range: 0...100_000, unit: "pseudo-requests")
        policy.priors.toolCallSuccessRate = priors.double(
            "tool_call_success_rate", default: policy.priors.toolCallSuccessRate, range: 0.001...0.999)
        policy.priors.reliabilityRate = priors.double("reliability_rate", default: policy.priors.reliabilityRate, range: 0.001...0.999)
        priors.finish()

        let reliability = fields.fields("reliability")
        let ignored = reliability.stringList("ignored_outcomes", default: policy.reliability.ignoredOutcomes.map(\.rawValue))
        policy.reliability.ignoredOutcomes = ignored.enumerated().compactMap { offset, name in
            guard let outcome = Outcome(rawValue: name), outcome.isRequestFailure else {
                reliability.report(
                    "reliability.ignored_outcomes[\(offset)]", nil,
                    "\"\(name)\" is not a request-failure outcome; use one of \(Outcome.allCases.filter(\.isRequestFailure).map(\.rawValue).joined(separator: ", "))"
                )
                return nil
            }
            return outcome
        }
        reliability.finish()

        let status = fields.fields("status")
        policy.status.minimumSamples = status.int(
            "minimum_samples", default: policy.status.minimumSamples, range: 0...1_000_000, unit: "observations")
        status.finish()

        let demotion = fields.fields("demotion")
        policy.demotion.baseSeconds = demotion.double(
            "base_seconds", default: policy.demotion.baseSeconds, range: 1...86_400, unit: "seconds")
        policy.demotion.maxSeconds = demotion.double(
            "max_seconds", default: policy.demotion.maxSeconds, range: 1...604_800, unit: "seconds")
        policy.demotion.cleanSeconds = demotion.double(
            "clean_seconds", default: policy.demotion.cleanSeconds, range: 0...86_400, unit: "seconds")
        policy.demotion.decaySeconds = demotion.double(
            "decay_seconds", default: policy.demotion.decaySeconds, range: 0...604_800, unit: "seconds")
        let failure = demotion.fields("failure_outlier")
        policy.demotion.failureOutlier.minRequests = failure.int(
            "min_requests", default: policy.demotion.failureOutlier.minRequests, range: 1...1_000_000)
        policy.demotion.failureOutlier.zCritical = failure.double(
            "z_critical", default: policy.demotion.failureOutlier.zCritical, range: 0...20)
        policy.demotion.failureOutlier.minExcessRate = failure.double(
            "min_excess_rate", default: policy.demotion.failureOutlier.minExcessRate, range: unit)
        failure.finish()
        let latency = demotion.fields("latency_outlier")
        policy.demotion.latencyOutlier.minPeers = latency.int(
            "min_peers", default: policy.demotion.latencyOutlier.minPeers, range: 2...1_000)
        policy.demotion.latencyOutlier.minSamples = latency.int(
            "min_samples", default: policy.demotion.latencyOutlier.minSamples, range: 1...1_000_000)
        policy.demotion.latencyOutlier.madMultiplier = latency.double(
            "mad_multiplier", default: policy.demotion.latencyOutlier.madMultiplier, range: 0...100)
        policy.demotion.latencyOutlier.minRatio = latency.double(
            "min_ratio", default: policy.demotion.latencyOutlier.minRatio, range: 1...100)
        latency.finish()
        demotion.finish()

        let fast = fields.fields("fast_path")
        policy.fastPath.consecutiveFailures = fast.int(
            "consecutive_failures", default: policy.fastPath.consecutiveFailures, range: 0...10_000)
        policy.fastPath.burstWindowSeconds = fast.int(
            "burst_window_seconds", default: policy.fastPath.burstWindowSeconds, range: 1...600, unit: "seconds")
        policy.fastPath.burstMinRequests = fast.int("burst_min_requests", default: policy.fastPath.burstMinRequests, range: 0...1_000_000)
        policy.fastPath.burstFailureRate = fast.double("burst_failure_rate", default: policy.fastPath.burstFailureRate, range: 0.01...1)
        policy.fastPath.outlierCheckSeconds = fast.double(
            "outlier_check_seconds", default: policy.fastPath.outlierCheckSeconds, range: 0...3_600, unit: "seconds")
        fast.finish()

        let probing = fields.fields("probing")
        policy.probing.intervalSeconds = probing.double(
            "interval_seconds", default: policy.probing.intervalSeconds, range: 0.1...86_400, unit: "seconds")
        policy.probing.suspiciousIntervalSeconds = probing.double(
            "suspicious_interval_seconds", default: policy.probing.suspiciousIntervalSeconds, range: 0.1...86_400, unit: "seconds")
        policy.probing.jitter = probing.double("jitter", default: policy.probing.jitter, range: 0...0.9)
        policy.probing.concurrency = probing.int("concurrency", default: policy.probing.concurrency, range: 1...1_000)
        policy.probing.maxPerMinute = probing.int("max_per_minute", default: policy.probing.maxPerMinute, range: 1...6_000)
        policy.probing.dailyBudgetUSD = probing.double(
            "daily_budget_usd", default: policy.probing.dailyBudgetUSD, range: 0...1_000_000, unit: "USD")
        policy.probing.timeoutSeconds = probing.double(
            "timeout_seconds", default: policy.probing.timeoutSeconds, range: 0.1...600, unit: "seconds")
        policy.probing.connectTimeoutSeconds = probing.double(
            "connect_timeout_seconds", default: policy.probing.connectTimeoutSeconds, range: 0.1...60, unit: "seconds")
        policy.probing.maxResponseBytes = probing.int(
            "max_response_bytes", default: policy.probing.maxResponseBytes, range: 1_024...(256 << 20), unit: "bytes")
        policy.probing.exposureProbeRatio = probing.double(
            "exposure_probe_ratio", default: policy.probing.exposureProbeRatio, range: 0...1, unit: "probes per live request")
        policy.probing.exposedMaxPerMinute = probing.int(
            "exposed_max_per_minute", default: policy.probing.exposedMaxPerMinute, range: 1...6_000)
        policy.probing.exposedDailyBudgetUSD = probing.double(
            "exposed_daily_budget_usd", default: policy.probing.exposedDailyBudgetUSD, range: 0...1_000_000, unit: "USD")
        probing.finish()

        let faults = fields.fields("faults")
        let slowness = faults.fields("latency")
        var slow = policy.faults.latency
        slow.windowSeconds = slowness.double("window_seconds", default: slow.windowSeconds, range: 1...600, unit: "seconds")
        slow.minSamples = slowness.int("min_samples", default: slow.minSamples, range: 1...10_000)
        slow.slowdownRatio = slowness.double("slowdown_ratio", default: slow.slowdownRatio, range: 1.1...1_000)
        slow.peerRatio = slowness.double("peer_ratio", default: slow.peerRatio, range: 1...1_000)
        slow.baselineMinSamples = slowness.int("baseline_min_samples", default: slow.baselineMinSamples, range: 1...100_000)
        slow.holdSeconds = slowness.double("hold_seconds", default: slow.holdSeconds, range: 1...86_400, unit: "seconds")
        slow.firstTokenBoundSeconds = slowness.double(
            "first_token_bound_seconds", default: slow.firstTokenBoundSeconds, range: 0...600, unit: "seconds")
        slowness.finish()
        policy.faults.latency = slow
        func cusum(_ name: String, _ rule: (floor: Double, ratio: Double, shift: Double, threshold: Double)) -> (
            fields: YAMLFields, floor: Double, ratio: Double, shift: Double, threshold: Double
        ) {
            let section = faults.fields(name)
            return (
                section, section.double("baseline_floor", default: rule.floor, range: 0.0001...0.5, unit: "failure rate"),
                section.double("shift_ratio", default: rule.ratio, range: 1.1...1_000),
                section.double("min_shift", default: rule.shift, range: 0...0.9, unit: "failure rate"),
                section.double("threshold", default: rule.threshold, range: 0...1_000, unit: "log-likelihood ratio")
            )
        }
        var change = policy.faults.failureChange
        let changeFields = cusum("failure_change", (change.baselineFloor, change.shiftRatio, change.minShift, change.threshold))
        (change.baselineFloor, change.shiftRatio, change.minShift, change.threshold) =
            (changeFields.floor, changeFields.ratio, changeFields.shift, changeFields.threshold)
        change.minRequests = changeFields.fields.int("min_requests", default: change.minRequests, range: 0...1_000_000)
        changeFields.fields.finish()
        policy.faults.failureChange = change
        var known = policy.faults.knownAnswers
        let knownFields = cusum("known_answers", (known.baselineFloor, known.shiftRatio, known.minShift, known.threshold))
        (known.baselineFloor, known.shiftRatio, known.minShift, known.threshold) =
            (knownFields.floor, knownFields.ratio, knownFields.shift, knownFields.threshold)
        known.reprobeSeconds = knownFields.fields.double(
            "reprobe_seconds", default: known.reprobeSeconds, range: 0.1...86_400, unit: "seconds")
        known.suspectMaxPerMinute = knownFields.fields.int("suspect_max_per_minute", default: known.suspectMaxPerMinute, range: 1...6_000)
        knownFields.fields.finish()
        policy.faults.knownAnswers = known
        let limits = faults.fields("rate_limits")
        policy.faults.rateLimits.defaultRetryAfterSeconds = limits.double(
            "default_retry_after_seconds", default: policy.faults.rateLimits.defaultRetryAfterSeconds, range: 0...86_400, unit: "seconds")
        policy.faults.rateLimits.maxRetryAfterSeconds = limits.double(
            "max_retry_after_seconds", default: policy.faults.rateLimits.maxRetryAfterSeconds, range: 0...86_400, unit: "seconds")
        policy.faults.rateLimits.minSeconds = limits.double(
            "min_seconds", default: policy.faults.rateLimits.minSeconds, range: 0...86_400, unit: "seconds")
        limits.finish()
        faults.finish()

        let publication = fields.fields("publication")
        policy.publication.cacheMaxAgeSeconds = publication.int(
            "cache_max_age_seconds", default: policy.publication.cacheMaxAgeSeconds, range: 0...3_600, unit: "seconds")
        publication.finish()
        let ingest = fields.fields("ingest")
        policy.ingest.dedupeWindowSeconds = ingest.double(
            "dedupe_window_seconds", default: policy.ingest.dedupeWindowSeconds, range: 60...7 * 86_400, unit: "seconds")
        policy.ingest.maxDedupeKeys = ingest.int("max_dedupe_keys", default: policy.ingest.maxDedupeKeys, range: 1_000...1_000_000_000)
        policy.ingest.futureToleranceSeconds = ingest.double(
            "future_tolerance_seconds", default: policy.ingest.futureToleranceSeconds, range: 0...3_600, unit: "seconds")
        ingest.finish()

        let routing = fields.fields("routing")
        policy.routing.explorationFloor = routing.double(
            "exploration_floor", default: policy.routing.explorationFloor, range: 0...0.5, unit: "share")
        policy.routing.temperature = routing.double("temperature", default: policy.routing.temperature, range: 0.001...10)
        policy.routing.qualityConfidenceZ = routing.double(
            "quality_confidence_z", default: policy.routing.qualityConfidenceZ, range: 0...10, unit: "standard deviations")
        policy.routing.qualityTolerance = routing.double(
            "quality_tolerance", default: policy.routing.qualityTolerance, range: 0...1, unit: "quality points")
        if let placement = routing.string("insufficient_data") {
            if let parsed = Policy.InsufficientDataPlacement(rawValue: placement) {
                policy.routing.insufficientData = parsed
            } else {
                routing.report(
                    "routing.insufficient_data", routing.node("insufficient_data"),
                    "\"\(placement)\" is not a placement; use with_ok (ranked with ok endpoints) or after_ok (after them, floor share only)"
                )
            }
        }
        policy.routing.coldStartMaxSeconds = routing.double(
            "cold_start_max_seconds", default: policy.routing.coldStartMaxSeconds, range: 1...3_600, unit: "seconds")
        policy.routing.warmupIntervalSeconds = routing.double(
            "warmup_interval_seconds", default: policy.routing.warmupIntervalSeconds, range: 0...86_400, unit: "seconds")
        policy.routing.warmupSeconds = routing.double(
            "warmup_seconds", default: policy.routing.warmupSeconds, range: 0...86_400, unit: "seconds")
        policy.routing.minUnscheduledEpochSeconds = routing.double(
            "min_unscheduled_epoch_seconds", default: policy.routing.minUnscheduledEpochSeconds, range: 0...3_600, unit: "seconds")
        policy.routing.preferenceWindowSeconds = routing.double(
            "preference_window_seconds", default: policy.routing.preferenceWindowSeconds, range: 60...3_600, unit: "seconds")
        routing.finish()
        let benchmarks = fields.fields("benchmarks")
        policy.benchmarks.maxAgeDays = benchmarks.double(
            "max_age_days", default: policy.benchmarks.maxAgeDays, range: 0...36_500, unit: "days")
        benchmarks.finish()
        fields.finish()

        for problem in policy.problems() {
            problems.add(ConfigProblem(file: file, path: problem.path, message: problem.message))
        }
        return policy
    }
}
