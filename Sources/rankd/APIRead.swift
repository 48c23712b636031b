import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// GETs from a running rankd for the CLI's read commands, with the read token from
/// `RANKD_READ_TOKEN` when the daemon has `tokens.read` set.
enum APIRead {
    static let tokenVariable = "RANKD_READ_TOKEN"

    /// The body and the HTTP status.
    static func get(_ url: URL) async throws -> (Data, Int) {
        var request = URLRequest(url: url)
        if let token = ProcessInfo.processInfo.environment[tokenVariable], !token.isEmpty {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        do {
            let (data, response) = try await session.data(for: request)
            return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
        } catch let error as URLError where error.code == .cancelled {
            // Only the challenge below cancels a request: rankd refused it for want of the read token.
            return (Data("the read token is missing or wrong".utf8), 401)
        }
    }

    /// What to do about a refused answer, beside rankd's own message.
    static func hint(status: Int) -> String {
        guard status == 401 else { return "" }
        return ProcessInfo.processInfo.environment[tokenVariable].map { $0.isEmpty ? "" : "(\(tokenVariable) is not the read token) " }
            ?? "(reads need the read token here: export \(tokenVariable)) "
    }

    /// FoundationNetworking on Linux waits forever on a 401 that offers HTTP Basic unless a
    /// delegate answers the challenge; this one cancels the request instead.
    private static let session = URLSession(configuration: .ephemeral, delegate: DeclineChallenges(), delegateQueue: nil)

    private final class DeclineChallenges: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
            completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
        ) {
            completionHandler(.cancelAuthenticationChallenge, nil)
        }
    }
}
