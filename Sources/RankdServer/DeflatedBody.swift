import Foundation
import NIOCore
import RankdPlatform

/// The API's ranking bodies are held deflated, and framed as gzip by rankd itself.
///
/// With tens of thousands of endpoints the `GET /v1/rankings` JSON is megabytes, and while an
/// epoch is published the new body and the served one are both in memory; deflated one model at
/// a time (level 1) the same JSON is an order of magnitude smaller. A client that accepts gzip
/// gets these bytes as they are held; any other client gets them inflated as they are sent.
///
/// Each model's entries are a raw deflate *fragment* (RFC 1951 blocks, none of them final, ended
/// by a sync flush so the fragment ends on a byte boundary, and compressed with a fresh dictionary
/// so it refers to nothing outside itself). Fragments and stored blocks (the small pieces of JSON
/// around them, copied as they are) concatenate into a valid deflate stream, which one final empty
/// block ends. The same entries fragment therefore serves both the whole table and the model's
/// own body, and a gzip answer is built from held buffers without compressing anything per request.
enum DeflatedBody {
    /// A gzip member header (RFC 1952): deflate, no flags, no time, unknown OS.
    static let gzipHeader = ByteBuffer(bytes: [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])

    /// A final, empty stored block: ends a deflate stream.
    static let finalBlock: [UInt8] = [0x01, 0x00, 0x00, 0xff, 0xff]

    /// `bytes` as stored (uncompressed) deflate blocks, none final, 65,535 bytes at most each.
    static func writeStored(_ bytes: some Collection<UInt8>, to buffer: inout ByteBuffer) {
        var rest = bytes[...]
        repeat {
            let piece = rest.prefix(65_535)
            rest = rest.dropFirst(piece.count)
            let length = UInt16(piece.count)
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(length, endianness: .little)
            buffer.writeInteger(~length, endianness: .little)
            buffer.writeBytes(piece)
        } while !rest.isEmpty
    }

    /// What ends a gzip member after its deflate data: the final block, CRC-32 and length.
    static func writeEnd(crc: UInt32, length: Int, to buffer: inout ByteBuffer) {
        buffer.writeBytes(finalBlock)
        buffer.writeInteger(crc, endianness: .little)
        buffer.writeInteger(UInt32(truncatingIfNeeded: length), endianness: .little)
    }

    /// A running CRC-32 and length of the uncompressed bytes of a gzip member.
    struct Checksum {
        private(set) var crc: UInt32 = 0
        private(set) var length = 0

        mutating func update(_ bytes: some Collection<UInt8>) {
            let value = bytes.withContiguousStorageIfAvailable { CRC32.update(crc, $0) } ?? Array(bytes).withUnsafeBufferPointer { CRC32.update(crc, $0) }
            crc = value
            length += bytes.count
        }

        /// Appends bytes whose own CRC-32 is known (zlib's `crc32_combine`: no second pass).
        mutating func append(crc other: UInt32, length otherLength: Int) {
            crc = CRC32.combine(crc, other, length: otherLength)
            length += otherLength
        }

    }

    /// Whether an `Accept-Encoding` value admits gzip (RFC 9110 12.5.3: `gzip`, `x-gzip` or `*`,
    /// with a q-value above zero; an explicit `gzip;q=0` refuses it even with `*`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzip: Bool?
        var any = false
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let name = parts.first?.trimmingCharacters(in: .whitespaces).lowercased() else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if pair.count == 2, pair[0].lowercased() == "q", let q = Double(pair[1]) { quality = q }
            }
            switch name {
            case "gzip", "x-gzip": gzip = quality > 0
            case "*": any = quality > 0
            default: break
            }
        }
        return gzip ?? any
    }
}

