import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RankdCore
import RankdDaemon
import RankdDaemonTestKit
import RankdServer
import RankdTestKit
import Testing

/// The dashboard at `/`, served by the real application on a real socket and loaded in headless
/// Chromium (Debian's `chromium`, installed by .ci/run), as a person would open it.
@Suite struct DashboardTests {
    /// Three epochs of `fast` failing and being demoted, and an operator override on `slow` whose
    /// note tries to inject markup.
    func daemonWithHistory(_ dir: TemporaryDirectory) async throws -> (RankdApplication.App, Ranker) {
        let clock = ManualClock()
        let (app, ranker) = try RankdApplication.build(testConfiguration(dir), clock: clock, logger: quietLogger, epochLoop: false)
        for provider in ["fast", "steady", "slow"] {
            await ranker.record(
                Build.observations(id(provider), count: 60, end: clock.now(), ttftMilliseconds: provider == "fast" ? 100 : 500))
        }
        try await ranker.computeAndPublish(.scheduled)
        clock.advance(seconds: 60)
        await ranker.record(
            Build.observations(id("fast"), count: 100, end: clock.now(), spanSeconds: 59, failEvery: 2, ttftMilliseconds: 100))
        try await ranker.computeAndPublish(.scheduled)
        clock.advance(seconds: 60)
        _ = try await ranker.applyOverride(
            OverrideRequest(
                endpointID: id("slow"), action: .disable, note: "OPS-1 <script>alert(1)</script> maintenance", author: "ana",
                expiry: .after(seconds: 3_600)))
        return (app, ranker)
    }

    @Test func pageIsSelfContainedAndEscapesWhatItShows() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (app, _) = try await daemonWithHistory(dir)
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let html = String(buffer: response.body)
                #expect(html.contains("<meta http-equiv=\"refresh\""))
                // Works offline: no script, no stylesheet or image fetched from anywhere.
                #expect(!html.contains("<script"))
                #expect(!html.contains("src="))
                #expect(!html.contains("<link"))
                #expect(html.contains("OPS-1 &lt;script&gt;alert(1)&lt;/script&gt; maintenance"))
            }
        }
    }

    @Test(.enabled(if: Needs.programs("chromium"), "needs headless Chromium: apt-get install -y chromium"))
    func chromiumShowsRankingsDemotionsOverridesAndCharts() async throws {
        try await HeavyWork.run {
            try #require(
                ChildProcess.isInstalled("chromium"),
                "headless Chromium is needed: apt-get install -y chromium (.ci/run installs it)")
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let (app, _) = try await daemonWithHistory(dir)
            try await app.test(.live) { client in
                let url = "http://127.0.0.1:\(try #require(client.port))/"
                let browser = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(dir.file("chromium"))"]
                let dom = try await ChildProcess.runOffPool("chromium", browser + ["--dump-dom", url], timeoutSeconds: 90)
                #expect(dom.status == 0 && !dom.timedOut, "\(dom.output.suffix(2_000))")
                let page = dom.output
                #expect(page.contains("<h2>\(Build.model)</h2>"))
                #expect(page.contains("<h2>acme/solo-1</h2>"))
                // Rows in rank order, the demoted one highlighted with why and since when.
                let section = try #require(page.components(separatedBy: "<h2>\(Build.model)</h2>").last)
                let rows = section.components(separatedBy: "<tr class=\"endpoint ").dropFirst().prefix(3)
                #expect(rows.map { $0.prefix(while: { $0 != "\"" }) } == ["status-ok", "status-demoted", "status-disabled"])
                let demoted = try #require(rows.dropFirst().first)
                #expect(demoted.contains("data-endpoint=\"fast:\(Build.model)\""))
                #expect(demoted.contains("tool_call_failure_outlier"))
                #expect(demoted.contains("demoted since"))
                // Each row shows its traffic share: the demoted and the disabled one none.
                #expect(demoted.contains(#"<td class="share" title="demoted">0.0%</td>"#), "\(demoted.prefix(1_500))")
                #expect(rows.first?.contains(#"<td class="share" title="top quality tier">"#) == true)
                // The override, in the rankings and in its own list; the injected markup stayed text.
                let disabled = try #require(rows.last)
                #expect(disabled.contains("operator_disabled") && disabled.contains("maintenance"))
                #expect(page.contains("Operator overrides in force"))
                #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
                #expect(!page.contains("<script>alert"))
                // One history chart per endpoint: three of the main model, one of acme/solo-1.
                #expect(page.components(separatedBy: "<svg class=\"chart\"").count - 1 == 4)
                #expect(page.contains("class=\"demoted\""), "the demoted stretch is shaded")

                let shot = dir.file("dashboard.png")
                let screenshot = try await ChildProcess.runOffPool(
                    "chromium", browser + ["--hide-scrollbars", "--window-size=1400,900", "--screenshot=\(shot)", url], timeoutSeconds: 90)
                #expect(screenshot.status == 0, "\(screenshot.output.suffix(2_000))")
                let png = try Data(contentsOf: URL(fileURLWithPath: shot))
                #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
                #expect(png.count > 20_000, "a rendered page, not a blank one (\(png.count) bytes)")
            }
        }
    }
}
