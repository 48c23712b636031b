import ArgumentParser
import Foundation
import RankdConfig
import RankdCore
import RankdDaemon

/// `rankd replay --data-dir DIR [--policy FILE]`: backtest a policy on recorded traffic.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded traffic through the scorer with the recorded or another policy, and compare with what was published.",
        discussion: """
            Reads DIR/state.db read-only (safe while the daemon runs). Prints per model the epochs whose order, statuses or \
            scores differ, each demotion timed from its first failing minute (published and replayed), and an estimate of the \
            failures and median TTFT users would have met under each. Exit status 0; 1 on bad input (every problem printed). \
            See docs/replay.md.
            """)

    @Option(name: .customLong("data-dir"), help: "The daemon's data directory (holding state.db).")
    var dataDirectory: String

    @Option(help: "Policy file to replay with (default: the policy each epoch was computed with, as recorded).")
    var policy: String?

    @Option(help: "RFC 3339 start (default: the first epoch kept).")
    var from: String?

    @Option(help: "RFC 3339 end (default: the last epoch kept).")
    var to: String?

    @Option(help: "Replay an epoch every INTERVAL (300s, 5m, 1h; at least 60s) instead of at the published epochs' times.")
    var interval: String?

    @Option(help: "Only this model.")
    var model: String?

    @Option(help: "Benchmark files to weigh instead of those state.db recorded as the daemon read them (needed for data from before schema 9).")
    var benchmarks: String?

    @Option(help: "Compare with: published (the daemon's epochs) or replay (the recorded policy replayed the same way: the policy's effect alone).")
    var baseline = "published"

    @Flag(help: "Print the report as one JSON document (schema in docs/replay.md).")
    var json = false

    @Option(help: "With the text report: differing epochs shown per model (all are in --json).")
    var differences = 10

    func run() async throws {
        var options = ReplayOptions()
        var problems: [String] = []
        func time(_ text: String?, _ flag: String) -> Timestamp? {
            guard let text else { return nil }
            guard let value = RFC3339.parse(text) else {
                problems.append("\(flag) \(text): not an RFC 3339 time; write e.g. 2026-12-07T10:00:00Z")
                return nil
            }
            return value
        }
        options.from = time(from, "--from")
        options.to = time(to, "--to")
        if let from = options.from, let to = options.to, from > to { problems.append("--from \(from) is after --to \(to); swap them") }
        if let interval {
            if let seconds = Self.seconds(interval), seconds >= 60 {
                options.intervalSeconds = seconds
            } else {
                problems.append("--interval \(interval): give a duration of at least 60s (300s, 5m, 1h): epochs move by the minute")
            }
        }
        options.model = model
        if let chosen = ReplayOptions.Baseline(rawValue: baseline) {
            options.baseline = chosen
        } else {
            problems.append("--baseline \(baseline): give published or replay")
        }
        let list = ProblemList()
        if let policy {
            options.policy = PolicyLoader.load(path: policy, problems: list)
            options.policyFile = policy
        }
        if let benchmarks {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: benchmarks, isDirectory: &isDirectory), isDirectory.boolValue {
                options.benchmarksDirectory = benchmarks
            } else {
                problems.append("--benchmarks \(benchmarks): not a directory; pass the benchmarks_dir the daemon read")
            }
        }
        problems += list.problems.map(\.description)
        guard problems.isEmpty else {
            print("rankd replay: \(problems.count) problem(s)")
            for problem in problems { print("  \(problem)") }
            throw ExitCode(1)
        }
        let report: ReplayReport
        do {
            report = try Replay.run(dataDirectory: dataDirectory, options: options)
        } catch {
            print("rankd replay: \(error)")
            throw ExitCode(1)
        }
        if json {
            print(String(decoding: try report.json(), as: UTF8.self))
        } else {
            print(Self.render(report, differences: differences), terminator: "")
        }
    }

    /// "300s", "5m", "1h" or a bare number of seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)) { return value * scale }
        }
        return Double(text)
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        let sign = whole < 0 ? "-" : ""
        let magnitude = abs(whole)
        if magnitude >= 3600 { return "\(sign)\(magnitude / 3600)h \(String(format: "%02d", magnitude % 3600 / 60))m" }
        return "\(sign)\(magnitude / 60)m \(String(format: "%02d", magnitude % 60))s"
    }

    static func percent(_ share: Double?) -> String { share.map { String(format: "%.2f%%", $0 * 100) } ?? "–" }

    static func clock(_ time: String?) -> String {
        guard let time else { return "not demoted" }
        return String(time.dropFirst(11).prefix(8))
    }

    static func render(_ report: ReplayReport, differences limit: Int) -> String {
        var out = "rankd replay of \(report.stateDB)\n"
        out += "  policy: \(report.policy == "recorded" ? "as recorded (each epoch's own)" : "\(report.policy) (hash \(report.policyHash ?? "?"))")\n"
        let cadence = report.range.intervalSeconds.map { "every \(Int($0)) s" } ?? "at the published epochs' times"
        out += "  range: \(report.range.from) … \(report.range.to), \(report.range.epochsReplayed) epoch(s) replayed \(cadence)\n"
        out += "  tallies kept: \(report.range.retainedFrom) … \(report.range.retainedTo)\n"
        if report.baseline == "replay" { out += "  baseline: the recorded policy, replayed the same way (columns \"recorded\")\n" }
        for note in report.notes { out += "  note: \(note)\n" }
        let base = report.baseline == "replay" ? "recorded" : "published"
        for model in report.models {
            out += "\nmodel \(model.model): \(model.epochsCompared) epoch(s) compared, \(model.epochsDiffering) differ"
            if model.epochsDiffering > 0 {
                out += ": \(model.epochsDifferingByPolicy) by the policy, \(model.epochsDifferingByInputs) saw other samples, "
                    + "\(model.epochsDifferingByFaultRules) where the fault rules acted"
            }
            out += "\n"
            if !model.demotions.isEmpty {
                out += "  demotions, from the first failing minute (5 points more failures than its peers) to the demotion:\n"
                let width = max(12, model.demotions.map(\.endpointID.count).max() ?? 0) + 2
                out += "    " + "endpoint".padding(toLength: width, withPad: " ", startingAt: 0) + "first failing  " + base.padding(toLength: 22, withPad: " ", startingAt: 0) + "replayed              replayed vs \(base)\n"
                for timing in model.demotions {
                    func cell(_ at: String?, _ after: Double?) -> String {
                        let text = at == nil ? "not demoted" : "\(clock(at))" + (after.map { " (+\(duration($0)))" } ?? "")
                        return text.padding(toLength: 22, withPad: " ", startingAt: 0)
                    }
                    var delta = ""
                    if let change = timing.replayedVsPublishedSeconds {
                        delta = change == 0 ? "same time" : change < 0 ? "\(duration(-change)) earlier" : "\(duration(change)) later"
                    } else if timing.publishedAt == nil {
                        delta = "added: " + (timing.replayedReasons ?? []).joined(separator: ",")
                    } else if timing.replayedAt == nil {
                        delta = "removed: \(base) had " + (timing.publishedReasons ?? []).joined(separator: ",")
                    }
                    out += "    " + timing.endpointID.padding(toLength: width, withPad: " ", startingAt: 0)
                        + (timing.firstFailingMinute.map { clock($0) } ?? "none").padding(toLength: 15, withPad: " ", startingAt: 0)
                        + cell(timing.publishedAt, timing.publishedAfterSeconds) + cell(timing.replayedAt, timing.replayedAfterSeconds) + delta + "\n"
                }
            }
            if !model.differences.isEmpty {
                out += "  epochs that differ (\(min(limit, model.differences.count)) of \(model.differences.count) shown; all with --json):\n"
                for difference in model.differences.prefix(limit) {
                    out += "    \(difference.at)" + (difference.publishedEpochID.map { " published epoch \($0) (\(difference.publishedTrigger ?? "?"))" } ?? "")
                    if difference.inputsDiffer { out += " [inputs differ: partial or late minute]" }
                    out += "\n"
                    for why in difference.mayDifferBecause { out += "      may differ anyway: \(why)\n" }
                    for change in difference.endpoints {
                        func pair<T>(_ a: T?, _ b: T?, _ show: (T) -> String) -> String { "\(a.map(show) ?? "–")→\(b.map(show) ?? "–")" }
                        out += "      \(change.endpointID): rank \(pair(change.publishedRank, change.replayedRank) { "\($0)" })"
                        out += "  \(pair(change.publishedStatus, change.replayedStatus) { $0 })"
                        out += "  score \(pair(change.publishedScore, change.replayedScore) { String(format: "%.4f", $0) })"
                        if change.publishedReasons != change.replayedReasons {
                            out += "  reasons \(pair(change.publishedReasons, change.replayedReasons) { "[" + $0.joined(separator: ",") + "]" })"
                        }
                        out += "\n"
                    }
                }
            }
            out += outcome(model.outcome, indent: "  ", base: base)
        }
        if report.models.count > 1 {
            out += "\nall models:\n" + outcome(report.outcome, indent: "  ", base: base)
        }
        out += "\nestimate: \(report.estimateCaveat)\n"
        return out
    }

    static func outcome(_ comparison: ReplayReport.OutcomeComparison, indent: String, base: String) -> String {
        let p = comparison.published
        let r = comparison.replayed
        var out = "\(indent)what users would have met (estimate)   \(base.padding(toLength: 13, withPad: " ", startingAt: 0))replayed\n"
        out += "\(indent)  requests with a wrong tool call       \(percent(p.toolCallFailureShare).padding(toLength: 13, withPad: " ", startingAt: 0))\(percent(r.toolCallFailureShare))\n"
        out += "\(indent)  requests with no usable answer        \(percent(p.errorShare).padding(toLength: 13, withPad: " ", startingAt: 0))\(percent(r.errorShare))\n"
        func ms(_ value: Double?) -> String { value.map { String(format: "%.0f ms", $0) } ?? "–" }
        out += "\(indent)  median time to first token           \(ms(p.ttftP50Ms).padding(toLength: 13, withPad: " ", startingAt: 0))\(ms(r.ttftP50Ms))\n"
        out += "\(indent)  requests weighed                      \(String(format: "%.0f", p.requests))\n"
        return out
    }
}
