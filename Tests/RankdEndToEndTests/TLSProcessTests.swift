import Foundation
import RankdTestKit
import Testing

/// `rankd serve` over HTTPS with a throwaway certificate and a read token, read with curl as the
/// README shows it. About 1 second.
@Suite struct TLSProcessTests {
    static let readToken = "read-token-for-the-tls-test-0123"

    /// A self-signed certificate for localhost and 127.0.0.1, and its key, in `dir`.
    static func makeCertificate(in dir: String, name: String) throws {
        let made = try ChildProcess.run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).crt",
            ], timeoutSeconds: 30)
        try #require(made.status == 0, "openssl: \(made.output)")
    }

    static func curl(_ arguments: [String]) throws -> ChildProcess.Finished {
        try ChildProcess.run("curl", ["--silent", "--show-error", "--max-time", "5"] + arguments, timeoutSeconds: 20)
    }

    @Test(.enabled(if: Needs.programs("openssl", "curl"), "needs openssl and curl: apt-get install -y openssl curl"))
    func httpsListenerServesReadsWithTheTokenAndRefusesABadKey_about1s() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: RepositoryFiles.rankdExecutable), "build rankd first (swift build --build-tests)")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.makeCertificate(in: dir.path, name: "tls")
        try Self.makeCertificate(in: dir.path, name: "other")
        func writeConfig(_ name: String, key: String) throws -> String {
            let path = "\(dir.path)/\(name).yaml"
            try """
            listen: "127.0.0.1:0"
            data_dir: ./data
            tls: {cert_file: tls.crt, key_file: \(key)}
            tokens:
              read: {env: RANKD_READ_TOKEN}
            endpoints:
              - {provider: acme, model: acme/tools-1, base_url: "http://127.0.0.1:9/v1"}
            """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let environment = ["RANKD_READ_TOKEN": Self.readToken]

        // A key that is not the certificate's: check-config and serve both say so, and serve stops.
        let mismatched = try writeConfig("mismatched", key: "other.key")
        let checked = try ChildProcess.run(
            RepositoryFiles.rankdExecutable, ["check-config", mismatched], environment: environment, timeoutSeconds: 30)
        #expect(checked.status == 1)
        #expect(checked.output.contains("tls.key_file") && checked.output.contains("does not belong to the certificate"), "\(checked.output)")
        let refused = try ChildProcess.run(
            RepositoryFiles.rankdExecutable, ["serve", "--config", mismatched, "--no-probe"], environment: environment, timeoutSeconds: 30)
        #expect(refused.status == 2)
        #expect(refused.output.contains("refusing to start") && refused.output.contains("tls.key_file"), "\(refused.output)")

        let config = try writeConfig("rankd", key: "tls.key")
        let daemon = try await DaemonProcess(["serve", "--config", config, "--no-probe"], environment: environment)
        defer { daemon.kill() }
        let base = "https://localhost:\(daemon.port)"
        var ready = false
        for _ in 0..<100 where !ready {
            ready = try Self.curl(["--cacert", "\(dir.path)/tls.crt", "--fail", "\(base)/readyz"]).status == 0
            if !ready { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(ready, "\(daemon.logs)")

        // The README's line: the certificate checked against the file, the read token sent.
        let read = try Self.curl([
            "--cacert", "\(dir.path)/tls.crt", "-H", "Authorization: Bearer \(Self.readToken)", "--write-out", "\n%{http_code}",
            "\(base)/v1/rankings/acme/tools-1",
        ])
        #expect(read.status == 0, "\(read.output)")
        #expect(read.output.hasSuffix("\n200") && read.output.contains("\"endpoints\""), "\(read.output)")
        let anonymous = try Self.curl(["--cacert", "\(dir.path)/tls.crt", "--write-out", "%{http_code}", "--output", "/dev/null", "\(base)/v1/rankings"])
        #expect(anonymous.output == "401")
        let browser = try Self.curl([
            "--cacert", "\(dir.path)/tls.crt", "--user", "me:\(Self.readToken)", "--write-out", "%{http_code}", "--output", "/dev/null", "\(base)/",
        ])
        #expect(browser.output == "200", "the dashboard with the token as the Basic password")
        // Without the certificate the client refuses the server; plain HTTP gets no answer.
        let untrusted = try Self.curl(["\(base)/healthz"])
        #expect(untrusted.status == 60, "curl: the certificate is not trusted: \(untrusted.output)")
        let plain = try Self.curl(["http://127.0.0.1:\(daemon.port)/healthz"])
        #expect(plain.status != 0, "plain HTTP on the TLS port: \(plain.output)")
        let stopped = await daemon.stop()
        #expect(stopped < .seconds(10))
    }
}
