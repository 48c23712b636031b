import Foundation
import RankdCore

/// The dashboard at `/`: one self-contained HTML page (inline CSS and SVG, no script, no external
/// resource) with each model's current ranking, demotions and overrides, and a 24-hour chart of
/// score and rank per endpoint. Pure: the same inputs give the same bytes.
public enum DashboardPage {
    /// How often the page reloads itself.
    public static let refreshSeconds = 30
    /// The span of the history charts.
    public static let historySeconds: Double = 86_400

    public static func render(epoch: Epoch?, history: [Epoch], overrides: [Override], now: Timestamp) -> String {
        var page = HTMLText()
        page.raw(
            """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(refreshSeconds)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>rankd</title>
            <style>\(style)</style>
            </head><body>
            """)
        guard let epoch else {
            page.raw("<h1>rankd</h1><p class=\"empty\">No epoch yet: the first one is published shortly after start.</p></body></html>")
            return page.text
        }
        page.raw("<header><h1>rankd</h1><p class=\"epoch\">epoch <b id=\"epoch-id\">\(epoch.id)</b> · computed ")
        page.time(epoch.computedAt, now: now)
        page.raw(" · trigger ")
        page.text(epoch.trigger.rawValue)
        page.raw(" · policy ")
        page.text(epoch.policyHash)
        page.raw(" · refreshes every \(refreshSeconds) s</p></header>\n")

        let active = overrides.filter { $0.isActive(at: now) }
        if !active.isEmpty { overridesSection(&page, active, now: now) }

        let series = Series(history: history, now: now)
        for ranking in epoch.models {
            modelSection(&page, ranking, series: series, now: now)
        }
        page.raw("<footer>JSON: <a href=\"/v1/rankings\">/v1/rankings</a> · <a href=\"/v1/overrides?include=ended\">overrides</a>")
        page.raw(" · <a href=\"/v1/epochs\">epochs</a> · <a href=\"/metrics\">metrics</a></footer>\n</body></html>\n")
        return page.text
    }

    static func overridesSection(_ page: inout HTMLText, _ overrides: [Override], now: Timestamp) {
        page.raw("<section class=\"overrides\"><h2>Operator overrides in force</h2><ul>")
        for override in overrides {
            page.raw("<li class=\"override\"><b>")
            page.text(override.action.rawValue)
            page.raw("</b> <code>")
            page.text(override.endpointID)
            page.raw("</code>: ")
            page.text(override.note)
            if let author = override.author {
                page.raw(" <span class=\"muted\">(")
                page.text(author)
                page.raw(")</span>")
            }
            page.raw(" <span class=\"muted\">ends ")
            page.time(override.expiresAt, now: now)
            page.raw("</span></li>")
        }
        page.raw("</ul></section>\n")
    }

    static func modelSection(_ page: inout HTMLText, _ ranking: ModelRanking, series: Series, now: Timestamp) {
        page.raw("<section class=\"model\"><h2>")
        page.text(ranking.model)
        page.raw("</h2>")
        if !ranking.reasons.isEmpty {
            page.raw("<p class=\"warning\">")
            page.text(ranking.reasons.joined(separator: ", "))
            page.raw("</p>")
        }
        page.raw(
            """
            <table><thead><tr><th>#</th><th>provider</th><th>status</th><th>score</th><th>share</th><th>components</th>\
            <th>samples</th><th>why</th><th>\(series.spanLabel): score <span class="key-score">━</span> rank <span class="key-rank">┅</span></th></tr></thead><tbody>
            """)
        for entry in ranking.endpoints {
            page.raw("<tr class=\"endpoint status-\(entry.status.rawValue)\" data-endpoint=\"")
            page.text(entry.endpointID)
            page.raw("\"><td class=\"rank\">\(entry.rank)</td><td><b>")
            page.text(entry.provider)
            page.raw("</b><br><code>")
            page.text(entry.upstreamModel)
            page.raw("</code></td><td><span class=\"badge\">")
            page.text(entry.status.rawValue.replacingOccurrences(of: "_", with: " "))
            page.raw("</span></td><td class=\"score\">\(format(entry.score, digits: 3))</td>")
            // The share of the model's traffic, and why (top tier, floor only, demoted, ...).
            page.raw("<td class=\"share\" title=\"")
            page.text(entry.explanation.share?.basis.replacingOccurrences(of: "_", with: " ") ?? "")
            page.raw("\">\(format(entry.trafficShare * 100, digits: 1))%</td><td>")
            components(&page, entry)
            page.raw("</td><td class=\"samples\">\(entry.samples.probe) probe<br>\(entry.samples.live) live</td><td class=\"why\">")
            why(&page, entry, now: now)
            page.raw("</td><td>")
            chart(&page, series.points[entry.endpointID] ?? [], series: series)
            page.raw("</td></tr>\n")
        }
        page.raw("</tbody></table></section>\n")
    }

    static func components(_ page: inout HTMLText, _ entry: EndpointRanking) {
        guard !entry.components.isEmpty else {
            page.raw("<span class=\"muted\">none yet</span>")
            return
        }
        page.raw("<dl class=\"components\">")
        for name in entry.components.keys.sorted() {
            let value = entry.components[name]!
            page.raw("<dt>")
            page.text(name.replacingOccurrences(of: "_", with: " "))
            page.raw(
                "</dt><dd><span class=\"bar\" style=\"width:\(Int((value * 60).rounded()))px\"></span> \(format(value, digits: 2))</dd>")
        }
        page.raw("</dl>")
    }

    static func why(_ page: inout HTMLText, _ entry: EndpointRanking, now: Timestamp) {
        if entry.reasons.isEmpty && entry.override == nil {
            page.raw("<span class=\"muted\">–</span>")
            return
        }
        for reason in entry.reasons {
            page.raw("<span class=\"reason\">")
            page.text(reason)
            page.raw("</span> ")
        }
        if let since = entry.demotedSince {
            page.raw("<div class=\"since\">demoted since ")
            page.time(since, now: now)
            if let until = entry.demotedUntil {
                page.raw("; ends ")
                page.time(until, now: now)
                page.raw(" at the earliest")
            }
            page.raw("</div>")
        }
        if let override = entry.override {
            page.raw("<div class=\"note\">operator: ")
            page.text(override.note)
            page.raw(" (ends ")
            page.time(override.expiresAt, now: now)
            page.raw(")</div>")
        }
    }

    /// Each endpoint's (time, score, rank, demoted) over the chart span, and the largest rank seen.
    struct Series {
        struct Point {
            var time: Timestamp
            var score: Double
            var rank: Int
            var demoted: Bool
        }

        var points: [String: [Point]] = [:]
        var maxRank = 1
        var start: Timestamp
        var end: Timestamp

        var spanLabel: String {
            let seconds = end.seconds(since: start)
            return seconds >= DashboardPage.historySeconds - 60 ? "last 24 h" : "last \(HTMLText.duration(seconds))"
        }

        /// The charts span the last 24 hours, or less when history is younger.
        init(history: [Epoch], now: Timestamp) {
            let dayAgo = now.adding(seconds: -DashboardPage.historySeconds)
            start = max(dayAgo, history.first { $0.computedAt >= dayAgo }?.computedAt ?? dayAgo)
            end = now
            for epoch in history where epoch.computedAt >= start && epoch.computedAt <= now {
                for ranking in epoch.models {
                    maxRank = max(maxRank, ranking.endpoints.count)
                    for entry in ranking.endpoints {
                        points[entry.endpointID, default: []].append(
                            Point(time: epoch.computedAt, score: entry.score, rank: entry.rank, demoted: entry.status == .demoted))
                    }
                }
            }
        }
    }

    static let chartWidth = 240.0
    static let chartHeight = 56.0
    static let chartPad = 4.0

    /// Score as a solid line (0 at the bottom, 1 at the top), rank as a dashed step line (1 at
    /// the top), periods spent demoted shaded.
    static func chart(_ page: inout HTMLText, _ points: [Series.Point], series: Series) {
        guard points.count >= 2 else {
            page.raw("<span class=\"muted\">not enough history yet</span>")
            return
        }
        let span = max(1, series.end.seconds(since: series.start))
        let x = { (time: Timestamp) -> Double in chartPad + (chartWidth - 2 * chartPad) * time.seconds(since: series.start) / span }
        let inner = chartHeight - 2 * chartPad
        let scoreY = { (score: Double) -> Double in chartPad + inner * (1 - score) }
        let rankY = { (rank: Int) -> Double in
            series.maxRank <= 1 ? chartPad : chartPad + inner * Double(rank - 1) / Double(series.maxRank - 1)
        }
        page.raw(
            "<svg class=\"chart\" width=\"\(Int(chartWidth))\" height=\"\(Int(chartHeight))\" viewBox=\"0 0 \(Int(chartWidth)) \(Int(chartHeight))\" role=\"img\">"
        )
        let first = points.first!
        let last = points.last!
        page.raw(
            "<title>score \(format(first.score, digits: 3)) → \(format(last.score, digits: 3)), rank \(first.rank) → \(last.rank), \(points.count) epochs</title>"
        )
        page.raw("<rect class=\"frame\" x=\"0\" y=\"0\" width=\"\(Int(chartWidth))\" height=\"\(Int(chartHeight))\"/>")
        // Demoted stretches: from a demoted point to the next point.
        for index in points.indices where points[index].demoted {
            let from = x(points[index].time)
            let to = index + 1 < points.count ? x(points[index + 1].time) : x(series.end)
            page.raw(
                "<rect class=\"demoted\" x=\"\(format(from))\" y=\"0\" width=\"\(format(max(1, to - from)))\" height=\"\(Int(chartHeight))\"/>"
            )
        }
        var rankPath: [String] = []
        for (index, point) in points.enumerated() {
            if index > 0 { rankPath.append("\(format(x(point.time))),\(format(rankY(points[index - 1].rank)))") }
            rankPath.append("\(format(x(point.time))),\(format(rankY(point.rank)))")
        }
        page.raw("<polyline class=\"rank\" points=\"\(rankPath.joined(separator: " "))\"/>")
        let scorePath = points.map { "\(format(x($0.time))),\(format(scoreY($0.score)))" }
        page.raw("<polyline class=\"score\" points=\"\(scorePath.joined(separator: " "))\"/></svg>")
    }

    static func format(_ value: Double, digits: Int = 1) -> String {
        String(format: "%.\(digits)f", value)
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1c2330;background:#f7f8fa}
        h1{margin:0;font-size:1.4rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
        .epoch,.muted,footer{color:#667085}code{font-size:12px;color:#475467}
        table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002;width:100%}
        th,td{padding:.4rem .6rem;border-bottom:1px solid #eaecf0;text-align:left;vertical-align:top}
        th{font-weight:600;font-size:12px;color:#475467;background:#f2f4f7}
        td.rank,td.score,td.share{font-variant-numeric:tabular-nums;font-weight:600}
        .badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:12px;background:#d1fadf;color:#05603a}
        tr.status-demoted{background:#fff1f0}tr.status-demoted .badge{background:#fecdca;color:#912018}
        tr.status-insufficient_data .badge{background:#fef0c7;color:#93370d}
        tr.status-disabled{color:#98a2b3}tr.status-disabled .badge{background:#eaecf0;color:#475467}
        dl.components{margin:0;display:grid;grid-template-columns:auto auto;gap:0 .5rem;font-size:12px}
        dl.components dt{color:#475467;white-space:nowrap}td.samples{white-space:nowrap}dl.components dd{margin:0;white-space:nowrap}
        .bar{display:inline-block;height:8px;background:#2e90fa;border-radius:2px;vertical-align:middle}
        .reason{display:inline-block;font-size:12px;background:#f2f4f7;border-radius:4px;padding:0 .3rem;margin:1px 0}
        tr.status-demoted .reason{background:#fee4e2}
        .since,.note{font-size:12px;margin-top:.2rem}.note{color:#6941c6}
        .warning{color:#b42318;font-weight:600}
        .overrides{background:#f4f3ff;border:1px solid #d9d6fe;padding:.2rem 1rem;border-radius:6px}
        svg.chart .frame{fill:#fff;stroke:#eaecf0}svg.chart .demoted{fill:#fecdca;opacity:.7}
        svg.chart polyline{fill:none;stroke-width:1.5}svg.chart .score{stroke:#2e90fa}
        svg.chart .rank{stroke:#98a2b3;stroke-dasharray:3 2}
        .key-score{color:#2e90fa}.key-rank{color:#98a2b3}
        footer{margin-top:2rem;font-size:12px}
        """
}

/// Builds HTML with everything from outside escaped.
struct HTMLText {
    private(set) var text = ""

    mutating func raw(_ markup: String) { text += markup }

    mutating func text(_ value: String) {
        for character in value {
            switch character {
            case "&": text += "&amp;"
            case "<": text += "&lt;"
            case ">": text += "&gt;"
            case "\"": text += "&quot;"
            case "'": text += "&#39;"
            default: text.append(character)
            }
        }
    }

    /// An RFC 3339 time, with how long ago (or ahead) it is, in a `<time>` element.
    mutating func time(_ time: Timestamp, now: Timestamp) {
        let formatted = RFC3339.format(time)
        raw("<time datetime=\"\(formatted)\" title=\"\(formatted)\">")
        text(Self.relative(now.seconds(since: time)))
        raw("</time>")
    }

    static func relative(_ seconds: Double) -> String {
        seconds >= 0 ? "\(duration(seconds)) ago" : "in \(duration(-seconds))"
    }

    static func duration(_ seconds: Double) -> String {
        switch seconds {
        case ..<60: "\(Int(seconds)) s"
        case ..<3_600: "\(Int(seconds / 60)) min"
        case ..<172_800: "\(Int(seconds / 3_600)) h \(Int(seconds.truncatingRemainder(dividingBy: 3_600) / 60)) min"
        default: "\(Int(seconds / 86_400)) days"
        }
    }
}
