#ifndef RANKD_CURL_SHIM_H
#define RANKD_CURL_SHIM_H

// curl_easy_setopt and curl_easy_getinfo are C variadics, which Swift cannot call: one typed
// wrapper per argument kind.
#include <curl/curl.h>

static inline CURLcode rankd_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rankd_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rankd_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rankd_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode rankd_curl_setopt_large(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*rankd_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode rankd_curl_setopt_write_function(CURL *handle, rankd_curl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode rankd_curl_setopt_header_function(CURL *handle, rankd_curl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

typedef int (*rankd_curl_xferinfo_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

// Called about once a second (more often while data flows); a non-zero return aborts the
// transfer: how a cancelled Swift task stops a blocked curl_easy_perform.
static inline CURLcode rankd_curl_setopt_xferinfo_function(CURL *handle, rankd_curl_xferinfo_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

static inline CURLcode rankd_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode rankd_curl_getinfo_off(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
