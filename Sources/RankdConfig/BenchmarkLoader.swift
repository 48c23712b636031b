import Foundation
import RankdCore

/// Reads benchmark scores from CSV files: `endpoint_id,benchmark,score,source,date`, one header
/// line, `score` in 0...1, `date` as YYYY-MM-DD or RFC 3339.
public enum BenchmarkLoader {
    public static let header = ["endpoint_id", "benchmark", "score", "source", "date"]

    public static func loadDirectory(_ directory: String, endpointIDs: Set<String>, problems: ProblemList) -> [BenchmarkScore] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            problems.add(
                ConfigProblem(
                    file: directory, path: "benchmarks_dir", message: "is not a readable folder; create it or remove benchmarks_dir"))
            return []
        }
        return names.filter { $0.hasSuffix(".csv") }.sorted().flatMap { name in
            let path = "\(directory)/\(name)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                problems.add(ConfigProblem(file: path, path: "", message: "cannot be read"))
                return [BenchmarkScore]()
            }
            return parse(csv: text, file: path, endpointIDs: endpointIDs, problems: problems)
        }
    }

    public static func parse(csv: String, file: String, endpointIDs: Set<String>, problems: ProblemList) -> [BenchmarkScore] {
        var scores: [BenchmarkScore] = []
        let lines = csv.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var sawHeader = false
        for (offset, rawLine) in lines.enumerated() {
            let lineNumber = offset + 1
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let cells = splitCSVLine(line)
            if !sawHeader {
                sawHeader = true
                if cells.map({ $0.lowercased() }) != header {
                    problems.add(
                        ConfigProblem(
                            file: file, line: lineNumber, path: "header", message: "must be exactly \(header.joined(separator: ","))"))
                    return []
                }
                continue
            }
            guard cells.count == header.count else {
                problems.add(
                    ConfigProblem(
                        file: file, line: lineNumber, path: "row",
                        message: "has \(cells.count) cells; it needs \(header.count): \(header.joined(separator: ","))"))
                continue
            }
            if let score = score(cells, file: file, line: lineNumber, prefix: "", endpointIDs: endpointIDs, problems: problems) {
                scores.append(score)
            }
        }
        return scores
    }

    /// One score from its five cells (`endpoint_id,benchmark,score,source,date`), or nil with
    /// every problem added (`prefix` before each field name, `line` when from a file).
    static func score(
        _ cells: [String], file: String, line: Int?, prefix: String, endpointIDs: Set<String>, problems: ProblemList
    ) -> BenchmarkScore? {
        var ok = true
        if !endpointIDs.contains(cells[0]) {
            problems.add(
                ConfigProblem(
                    file: file, line: line, path: prefix + "endpoint_id",
                    message: "\"\(cells[0])\" is not an endpoint id in the configuration; fix the id or add the endpoint"))
            ok = false
        }
        let score = Double(cells[2])
        if score == nil || !(0...1).contains(score!) {
            problems.add(
                ConfigProblem(
                    file: file, line: line, path: prefix + "score",
                    message: "\"\(cells[2])\" must be a number from 0 to 1 (divide percentages by 100)"))
            ok = false
        }
        let date = RFC3339.parse(cells[4]) ?? RFC3339.parse("\(cells[4])T00:00:00Z")
        if date == nil {
            problems.add(
                ConfigProblem(file: file, line: line, path: prefix + "date", message: "\"\(cells[4])\" must be a date like 2026-11-01"))
            ok = false
        }
        if cells[1].isEmpty {
            problems.add(
                ConfigProblem(
                    file: file, line: line, path: prefix + "benchmark", message: "is empty; name the benchmark, e.g. tau2-airline"))
            ok = false
        }
        guard ok else { return nil }
        return BenchmarkScore(endpointID: cells[0], benchmark: cells[1], score: score!, source: cells[3], measuredAt: date!)
    }

    /// Scores from a JSON body: `{"scores": [{"endpoint_id", "benchmark", "score", "source",
    /// "date"}, ...]}` (or the array alone), every problem named by its path (`scores[2].score`).
    public static func parse(json: JSONValue, file: String, endpointIDs: Set<String>, problems: ProblemList) -> [BenchmarkScore] {
        let rows: [JSONValue]
        if let array = json.arrayValue {
            rows = array
        } else if let array = json.objectValue?["scores"]?.arrayValue {
            rows = array
        } else {
            problems.add(
                ConfigProblem(
                    file: file, path: "scores",
                    message: "is missing; send {\"scores\": [{\"endpoint_id\": ..., \"benchmark\": ..., \"score\": 0.4, \"source\": ..., \"date\": \"2026-11-01\"}]}"))
            return []
        }
        var scores: [BenchmarkScore] = []
        for (index, row) in rows.enumerated() {
            let prefix = "scores[\(index)]."
            guard let object = row.objectValue else {
                problems.add(ConfigProblem(file: file, path: "scores[\(index)]", message: "must be an object with \(header.joined(separator: ", "))"))
                continue
            }
            for key in object.keys.sorted() where !header.contains(key) {
                problems.add(ConfigProblem(file: file, path: prefix + key, message: "is not a field; the fields are \(header.joined(separator: ", "))"))
            }
            let cells = header.map { key -> String in
                switch object[key] {
                case .string(let text)?: return text
                case .number(let number)?: return "\(number)"
                default: return ""
                }
            }
            if let score = score(cells, file: file, line: nil, prefix: prefix, endpointIDs: endpointIDs, problems: problems) { scores.append(score) }
        }
        return scores
    }

    /// Splits one CSV line; double quotes group a cell and `""` inside quotes is a quote.
    static func splitCSVLine(_ line: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var quoted = false
        var iterator = Array(line).makeIterator()
        while let c = iterator.next() {
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" {
                            current.append("\"")
                        } else {
                            quoted = false
                            if next == "," { cells.append(current); current = "" } else { current.append(next) }
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                cells.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        cells.append(current)
        return cells.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
