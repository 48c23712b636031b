import Foundation
import RankdConfig
import RankdCore

/// Reads a `PUT /v1/admin/benchmarks` body with the benchmark files' own rules (RankdConfig's
/// `BenchmarkLoader`), every problem as a field error.
enum BenchmarkUploadParser {
    static func parse(_ body: String, csv: Bool, endpointIDs: Set<String>) -> Result<[BenchmarkScore], RouteRequestParser.FieldErrors> {
        let problems = ProblemList()
        var scores: [BenchmarkScore] = []
        if csv {
            let hasHeader = body.split(whereSeparator: \.isNewline).contains { line in
                let text = line.trimmingCharacters(in: .whitespaces)
                return !text.isEmpty && !text.hasPrefix("#")
            }
            if !hasHeader {
                // An empty body would clear every score: that takes the header line alone, on purpose.
                problems.add(
                    ConfigProblem(
                        file: "body", path: "header",
                        message: "is missing; start with \(BenchmarkLoader.header.joined(separator: ",")) (the header alone clears the scores)"))
            }
            scores = BenchmarkLoader.parse(csv: body, file: "body", endpointIDs: endpointIDs, problems: problems)
        } else if let json = JSONValue.parse(body) {
            scores = BenchmarkLoader.parse(json: json, file: "body", endpointIDs: endpointIDs, problems: problems)
        } else {
            problems.add(ConfigProblem(file: "body", path: "body", message: "is not JSON; send {\"scores\": [...]} or text/csv"))
        }
        // One score per endpoint and benchmark: a second would silently replace the first.
        var seen: Set<String> = []
        for score in scores where !seen.insert(score.key).inserted {
            problems.add(
                ConfigProblem(
                    file: "body", path: "benchmark",
                    message: "\(score.benchmark) of \(score.endpointID) is given twice; keep one score per endpoint and benchmark"))
        }
        guard problems.isEmpty else {
            return .failure(
                RouteRequestParser.FieldErrors(
                    errors: problems.problems.map { problem in
                        RouteRequestParser.FieldError(
                            field: problem.path, message: (problem.line.map { "line \($0): " } ?? "") + problem.message)
                    }))
        }
        return .success(scores)
    }
}
