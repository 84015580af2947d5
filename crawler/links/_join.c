/* The common forms of a page's new hrefs, resolved without a Python frame per href.
 *
 * join_many(hrefs, origin, directory, max_input, max_url) gives, for each href, what
 * crawler.links.urls.PageBase._resolve gives on a page whose base passed PageBase's ``fast``
 * checks, or None where this loop does not decide (the caller then runs its own path, which
 * may still take its Python fast path or the full algorithm). It decides only:
 *   - an href of the fast path's characters (RFC 3986 unreserved and sub-delimiters but "'"
 *     and ";", and ":", "@", "/"; "?" in the query), starting with one of them (so not "?",
 *     "#", whitespace or a control character: those are the caller's), its fragment dropped
 *     whatever it holds;
 *   - a relative path (no ':' in its first segment), joined to ``directory``;
 *   - an absolute path ("/...");
 *   - an absolute URL whose scheme and host are ``origin``'s (ASCII case-insensitive), then
 *     "/" or nothing.
 * It leaves to the caller: a path with "//" in it, an empty path, any other character, an
 * href longer than ``max_input`` or a result longer than ``max_url``. Dot-segments are removed
 * (RFC 3986 section 5.2.4, as ``urls._remove_dot_segments``); an empty query ("x?") is dropped,
 * as the fast path drops it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The fast path's characters (urls._PATH): A-Z a-z 0-9 - . _ ~ ! $ & ( ) * + , = : @ / */
static unsigned char PATH_CHARS[256];

static void init_tables(void) {
    const char *extra = "-._~!$&()*+,=:@/";
    for (int c = 'A'; c <= 'Z'; c++) PATH_CHARS[c] = 1;
    for (int c = 'a'; c <= 'z'; c++) PATH_CHARS[c] = 1;
    for (int c = '0'; c <= '9'; c++) PATH_CHARS[c] = 1;
    for (const char *p = extra; *p; p++) PATH_CHARS[(unsigned char)*p] = 1;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* RFC 3986 section 5.2.4 on [path, path + n), an absolute path with no empty segment (no
 * "//"), written to out: its length. out has room for n + 1 bytes. */
static Py_ssize_t remove_dot_segments(const char *path, Py_ssize_t n, char *out) {
    Py_ssize_t o = 0;     /* out holds "/seg/seg..." without a trailing '/' */
    Py_ssize_t i = 1;     /* past the leading '/' */
    int last_dot = 0;     /* the last segment was "." or ".." */
    for (;;) {
        const char *seg = path + i;
        const char *slash = memchr(seg, '/', n - i);
        Py_ssize_t len = slash ? slash - seg : n - i;
        last_dot = 0;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (o > 0 && out[o - 1] != '/') o--; /* pop the last segment */
            if (o > 0) o--;                           /* and its '/' */
            last_dot = 1;
        } else if (len == 1 && seg[0] == '.') {
            last_dot = 1;
        } else {
            out[o++] = '/';
            memcpy(out + o, seg, len);
            o += len;
        }
        if (slash == NULL) break;
        i += len + 1;
    }
    if (last_dot || o == 0) out[o++] = '/'; /* ends in a directory, or is the root */
    return o;
}

/* One href: the resolved URL, Py_None (not decided here), or NULL on a Python error. */
static PyObject *join_one(PyObject *href_obj, const char *origin, Py_ssize_t origin_n,
                          const char *dir, Py_ssize_t dir_n, Py_ssize_t max_input,
                          Py_ssize_t max_url, char **buf, Py_ssize_t *cap) {
    Py_ssize_t n;
    if (!PyUnicode_Check(href_obj)) Py_RETURN_NONE;
    /* UTF-8: a non-ASCII character is bytes over 0x7f, none of the fast path's (it may be in
     * the fragment, which is dropped). */
    const char *href = PyUnicode_AsUTF8AndSize(href_obj, &n);
    if (href == NULL) {
        PyErr_Clear(); /* a lone surrogate: the caller's */
        Py_RETURN_NONE;
    }
    if (n == 0 || n > max_input || !PATH_CHARS[(unsigned char)href[0]]) Py_RETURN_NONE;
    const char *hash = memchr(href, '#', n);
    Py_ssize_t end = hash ? hash - href : n;
    const char *q = memchr(href, '?', end);
    Py_ssize_t path_n = q ? q - href : end;
    for (Py_ssize_t i = 0; i < path_n; i++)
        if (!PATH_CHARS[(unsigned char)href[i]]) Py_RETURN_NONE;
    const char *query = q ? q + 1 : NULL;
    Py_ssize_t query_n = q ? end - (path_n + 1) : 0;
    for (Py_ssize_t i = 0; i < query_n; i++) {
        unsigned char c = (unsigned char)query[i];
        if (!PATH_CHARS[c] && c != '?') Py_RETURN_NONE;
    }

    /* The path part as it joins: a prefix (the directory, or nothing) and [p, p + pn). */
    const char *prefix = "";
    Py_ssize_t prefix_n = 0;
    const char *p = href;
    Py_ssize_t pn = path_n;
    if (href[0] != '/') {
        const char *slash = memchr(href, '/', path_n);
        Py_ssize_t first = slash ? slash - href : path_n;
        if (memchr(href, ':', first) == NULL) { /* a relative path */
            prefix = dir;
            prefix_n = dir_n;
        } else { /* an absolute URL: this page's origin, then "/" or nothing */
            if (path_n < origin_n || (path_n > origin_n && href[origin_n] != '/'))
                Py_RETURN_NONE;
            for (Py_ssize_t i = 0; i < origin_n; i++)
                if (lower((unsigned char)href[i]) != (unsigned char)origin[i]) Py_RETURN_NONE;
            p = href + origin_n;
            pn = path_n - origin_n;
            if (pn == 0) {
                p = "/";
                pn = 1;
            }
        }
    }
    Py_ssize_t joined_n = prefix_n + pn;
    Py_ssize_t need = 2 * (origin_n + joined_n + query_n) + 8;
    if (need > *cap) {
        char *grown = PyMem_Realloc(*buf, need);
        if (grown == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        *buf = grown;
        *cap = need;
    }
    char *joined = *buf + origin_n + joined_n + query_n + 4; /* scratch after the result */
    memcpy(joined, prefix, prefix_n);
    memcpy(joined + prefix_n, p, pn);
    /* "//" anywhere in the joined path: the full algorithm's (an authority, empty segments) */
    for (Py_ssize_t i = 0; i + 1 < joined_n; i++)
        if (joined[i] == '/' && joined[i + 1] == '/') Py_RETURN_NONE;

    char *out = *buf;
    memcpy(out, origin, origin_n);
    Py_ssize_t o = origin_n;
    int dotted = 0;
    for (Py_ssize_t i = 0; i + 1 < joined_n; i++)
        if (joined[i] == '/' && joined[i + 1] == '.') {
            dotted = 1;
            break;
        }
    if (dotted) {
        o += remove_dot_segments(joined, joined_n, out + o);
    } else {
        memcpy(out + o, joined, joined_n);
        o += joined_n;
    }
    if (query_n > 0) {
        out[o++] = '?';
        memcpy(out + o, query, query_n);
        o += query_n;
    }
    if (o > max_url) Py_RETURN_NONE;
    return PyUnicode_DecodeASCII(out, o, NULL);
}

static PyObject *join_many(PyObject *module, PyObject *args) {
    PyObject *hrefs;
    const char *origin, *dir;
    Py_ssize_t origin_n, dir_n, max_input, max_url;
    if (!PyArg_ParseTuple(args, "O!s#s#nn", &PyList_Type, &hrefs, &origin, &origin_n, &dir,
                          &dir_n, &max_input, &max_url))
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(hrefs);
    PyObject *results = PyList_New(count);
    if (results == NULL) return NULL;
    Py_ssize_t cap = 512;
    char *buf = PyMem_Malloc(cap);
    if (buf == NULL) {
        Py_DECREF(results);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *url = join_one(PyList_GET_ITEM(hrefs, i), origin, origin_n, dir, dir_n,
                                 max_input, max_url, &buf, &cap);
        if (url == NULL) {
            PyMem_Free(buf);
            Py_DECREF(results);
            return NULL;
        }
        PyList_SET_ITEM(results, i, url);
    }
    PyMem_Free(buf);
    return results;
}

static PyMethodDef methods[] = {
    {"join_many", join_many, METH_VARARGS,
     "join_many(hrefs: list[str], origin: str, directory: str, max_input: int, max_url: int)\n"
     "-> list[str | None]\n\n"
     "Each href resolved against a page whose base is ``origin`` + ``directory`` (+ a file\n"
     "name), in normal form, where it is one of the common forms; None where the caller's\n"
     "own path must decide."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_join", NULL, -1, methods};

PyMODINIT_FUNC PyInit__join(void) {
    init_tables();
    return PyModule_Create(&module);
}
