import CCurl
import Foundation
import RankdCore
import Synchronization

/// One chat-completion request, as the prober sends it.
public struct ChatRequest: Sendable {
    /// Full URL, `{base_url}/chat/completions`.
    public var url: String
    public var body: Data
    public var stream: Bool
    /// Bearer token, when the endpoint has one (never logged).
    public var apiKey: String?
    public var connectTimeoutMilliseconds: Int
    public var totalTimeoutMilliseconds: Int
    /// Responses larger than this are cut and reported as a transport error.
    public var maxResponseBytes: Int
    /// When set, `onNoFirstToken` is called once (on the transfer's thread) if no first token
    /// (streams) or first byte has come this long after the request started.
    public var firstTokenBoundMilliseconds: Int?
    public var onNoFirstToken: (@Sendable (_ waitedMilliseconds: Double) -> Void)?

    public init(
        url: String, body: Data, stream: Bool, apiKey: String? = nil, connectTimeoutMilliseconds: Int = 5_000,
        totalTimeoutMilliseconds: Int = 60_000, maxResponseBytes: Int = 1 << 20
    ) {
        self.url = url
        self.body = body
        self.stream = stream
        self.apiKey = apiKey
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
        self.maxResponseBytes = maxResponseBytes
    }
}

/// What came back, with timings measured from the stream itself.
public struct ChatExchange: Sendable {
    public var transport: TransportResult
    public var response: ChatResponseAssembler
    /// Request start to the first content or tool-call delta (streams), or to the first body byte.
    public var ttftMilliseconds: Double?
    public var totalMilliseconds: Double
    /// Output tokens: `usage.completion_tokens` when sent, else deltas counted.
    public var outputTokens: Int
    /// (tokens − 1) ÷ (last token time − first token time), streams with 2+ tokens only.
    public var outputTokensPerSecond: Double?
    /// 1 (HTTP/1.x), 2 or 3; 0 when no response.
    public var httpVersion: Int
}

/// An OpenAI-compatible chat client over libcurl's easy interface. Each request runs
/// `curl_easy_perform` on a dedicated thread and resumes the caller when done, so a slow or hung
/// provider parks a thread of its own and never a thread of Swift's cooperative pool.
public struct CurlClient: Sendable {
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init() {
        _ = Self.globalInit
    }

    /// Sends the request. Cancelling the calling task aborts the transfer within about a second
    /// (the result is then `.failed("cancelled")`).
    public func send(_ request: ChatRequest) async -> ChatExchange {
        let transfer = Transfer(stream: request.stream, cap: request.maxResponseBytes)
        if let bound = request.firstTokenBoundMilliseconds, let report = request.onNoFirstToken {
            transfer.firstTokenBound = UInt64(max(0, bound)) * 1_000_000
            transfer.onNoFirstToken = report
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    continuation.resume(returning: Self.perform(request, transfer: transfer))
                }
                thread.name = "rankd-curl"
                thread.stackSize = 1 << 20
                thread.start()
            }
        } onCancel: {
            transfer.cancelled.store(true, ordering: .relaxed)
        }
    }

    /// Blocking; call from a thread of its own.
    static func perform(_ request: ChatRequest, transfer: Transfer) -> ChatExchange {
        guard let handle = curl_easy_init() else {
            return transfer.exchange(.failed("curl_easy_init failed"), httpVersion: 0)
        }
        defer { curl_easy_cleanup(handle) }

        var headers: UnsafeMutablePointer<curl_slist>?
        headers = curl_slist_append(headers, "Content-Type: application/json")
        headers = curl_slist_append(headers, request.stream ? "Accept: text/event-stream" : "Accept: application/json")
        // curl sends `Expect: 100-continue` for bodies over 1 KiB and waits for the go-ahead: a
        // round trip (or a 1 s stall with servers that never answer it) added to every TTFT.
        headers = curl_slist_append(headers, "Expect:")
        if let key = request.apiKey, !key.isEmpty { headers = curl_slist_append(headers, "Authorization: Bearer \(key)") }
        defer { curl_slist_free_all(headers) }

        let context = Unmanaged.passRetained(transfer)
        defer { context.release() }

        rankd_curl_setopt_string(handle, CURLOPT_URL, request.url)
        rankd_curl_setopt_long(handle, CURLOPT_POST, 1)
        rankd_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        rankd_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMilliseconds)
        rankd_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.totalTimeoutMilliseconds)
        rankd_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        rankd_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        rankd_curl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        rankd_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        rankd_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        rankd_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
        rankd_curl_setopt_large(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBytes))
        rankd_curl_setopt_write_function(handle) { data, size, count, pointer in
            guard let data, let pointer else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue()
            return transfer.receive(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        rankd_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
        rankd_curl_setopt_header_function(handle) { data, size, count, pointer in
            guard let data, let pointer else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue()
            transfer.header(String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self))
            return size * count
        }
        rankd_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque())
        rankd_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        rankd_curl_setopt_xferinfo_function(handle) { pointer, _, _, _, _ in
            guard let pointer else { return 0 }
            return Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue().progress() ? 0 : 1
        }
        rankd_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context.toOpaque())

        let code = request.body.withUnsafeBytes { bytes -> CURLcode in
            rankd_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, bytes.count)
            rankd_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            transfer.start = monotonicNanoseconds()
            return curl_easy_perform(handle)
        }
        var status = 0
        rankd_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        rankd_curl_getinfo_long(handle, CURLINFO_HTTP_VERSION, &version)
        let httpVersion = version == Int(CURL_HTTP_VERSION_2_0) ? 2 : version == Int(CURL_HTTP_VERSION_3) ? 3 : (status > 0 ? 1 : 0)

        let result: TransportResult
        switch code {
        case CURLE_OK:
            if !request.stream { transfer.finishComplete() }
            result = .completed(status: status, retryAfterSeconds: transfer.retryAfterSeconds)
        case CURLE_ABORTED_BY_CALLBACK:
            result = .failed("cancelled")
        case CURLE_OPERATION_TIMEDOUT:
            result = .timeout
        case CURLE_WRITE_ERROR where transfer.exceededCap, CURLE_FILESIZE_EXCEEDED:
            result = .tooLarge(limitBytes: request.maxResponseBytes)
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_HTTP2_STREAM, CURLE_HTTP2,
            CURLE_GOT_NOTHING where status > 0 || transfer.receivedBytes > 0:
            result = .cutOff(status: status)
        default:
            result = .failed(String(cString: curl_easy_strerror(code)))
        }
        return transfer.exchange(result, httpVersion: httpVersion)
    }
}

/// Per-transfer state. Everything but `cancelled` is touched only by the transfer's own thread
/// (curl callbacks run on it); `cancelled` is atomic.
final class Transfer: @unchecked Sendable {
    let cancelled = Atomic<Bool>(false)
    let stream: Bool
    let cap: Int
    var start: UInt64 = 0
    var receivedBytes = 0
    var exceededCap = false
    var body = Data()
    var assembler = ChatResponseAssembler()
    var firstByteAt: UInt64?
    var firstTokenAt: UInt64?
    var lastTokenAt: UInt64?
    var retryAfterSeconds: Double?
    var firstTokenBound: UInt64?
    var onNoFirstToken: (@Sendable (Double) -> Void)?

    init(stream: Bool, cap: Int) {
        self.stream = stream
        self.cap = cap
    }

    /// Returns false to make curl abort (size cap).
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let now = monotonicNanoseconds()
        receivedBytes += bytes.count
        if receivedBytes > cap {
            exceededCap = true
            return false
        }
        if firstByteAt == nil { firstByteAt = now }
        if stream {
            if assembler.feedStream(Data(bytes)) > 0 {
                if firstTokenAt == nil { firstTokenAt = now }
                lastTokenAt = now
            }
        } else {
            body.append(contentsOf: bytes)
        }
        return true
    }

    /// curl's progress callback (at least once a second): reports a first token past its bound
    /// once; false aborts the transfer (cancelled).
    func progress() -> Bool {
        if let bound = firstTokenBound, start > 0, (stream ? firstTokenAt : firstByteAt) == nil {
            let waited = monotonicNanoseconds() &- start
            if waited >= bound {
                firstTokenBound = nil
                onNoFirstToken?(Double(waited) / 1e6)
            }
        }
        return !cancelled.load(ordering: .relaxed)
    }

    func header(_ line: String) {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2, parts[0].lowercased() == "retry-after" {
            retryAfterSeconds = Double(parts[1].trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    func finishComplete() {
        assembler.feedComplete(body)
    }

    func exchange(_ transport: TransportResult, httpVersion: Int) -> ChatExchange {
        let end = monotonicNanoseconds()
        func milliseconds(_ t: UInt64?) -> Double? { t.map { Double($0 &- start) / 1e6 } }
        let tokens = assembler.outputTokens
        var tokensPerSecond: Double?
        if stream, tokens >= 2, let first = firstTokenAt, let last = lastTokenAt, last > first {
            tokensPerSecond = Double(tokens - 1) / (Double(last - first) / 1e9)
        }
        return ChatExchange(
            transport: transport, response: assembler, ttftMilliseconds: stream ? milliseconds(firstTokenAt) : milliseconds(firstByteAt),
            totalMilliseconds: Double(end &- start) / 1e6, outputTokens: tokens, outputTokensPerSecond: tokensPerSecond,
            httpVersion: httpVersion)
    }
}

func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
