#ifndef RANKD_ZLIB_SHIM_H
#define RANKD_ZLIB_SHIM_H

// deflateInit and inflateInit are macros (they pass the library version and the stream size),
// which Swift cannot call: one function each.
#include <zlib.h>

static inline int rankd_deflate_init(z_streamp stream, int level) {
    return deflateInit(stream, level);
}

static inline int rankd_inflate_init(z_streamp stream) {
    return inflateInit(stream);
}

// Raw deflate (RFC 1951, no zlib or gzip framing): the API's bodies are kept as raw fragments
// that rankd frames as gzip itself (RankdServer's DeflatedBody.swift).
static inline int rankd_deflate_init_raw(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}

static inline int rankd_inflate_init_raw(z_streamp stream) {
    return inflateInit2(stream, -15);
}

// A gzip member (RFC 1952), its CRC-32 and length checked (RankdPlatform's Zlib.inflate).
static inline int rankd_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 16 + 15);
}

#endif
