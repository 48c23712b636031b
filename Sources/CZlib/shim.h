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

#endif
