/* An HTML link scanner: the HTML Standard's tokenizer, as far as a page's links need it.
 *
 * scan(data, rels) reads a UTF-8 document and gives back what crawler.links.extract needs
 * (its first <title>'s raw text, its first <base href>, each <a href> value and, with
 * ``rels``, that <a>'s rel), without building a tree. The tree builder changes what the
 * tokenizer does, and which elements end up where, through a few elements only. A document
 * where it would (listed below) gets None, and its caller parses it in full (lexbor). So for
 * every document this scanner answers, the answer is the tree's, in the tree's order (but for
 * repeats: an <a> the tree builder clones is listed once, where it first appears).
 *
 * Followed from the Standard (13.2.5, the tokenization states):
 *   - tags: name up to whitespace, '/' or '>'; attributes (first of a name wins, names
 *     lowercased in ASCII), quoted, unquoted or missing values; a tag cut by the end of the
 *     document is dropped. "href=>" has no value, as lexbor reads it (the Standard: "");
 *   - comments (<!-->, <!--->, and the end at the first "-->" or "--!>"), bogus comments
 *     (<?...>, <!...>, </ followed by a non-letter), DOCTYPE;
 *   - the text of RCDATA (title, textarea) and RAWTEXT (style, xmp, iframe, noembed,
 *     noframes) elements, which ends at the matching end tag only; script text, with its
 *     escaped ("<!--") and double-escaped ("<!--<script>") parts;
 *   - <template>: its content is not part of the page (no link, title or base from it);
 *   - <svg> made of drawing elements only (path, g, use...; SVG[] below), with CDATA sections
 *     and text-only <title> and <desc> in it; a <math> made of presentation elements, its
 *     token elements and <annotation> holding text only (MATH[] below);
 *   - <select>, as ordinary content: lexbor keeps what a <select> holds (links, raw text
 *     elements) as it keeps any element's content (the tests hold the two together on it).
 * Left to the full parser (scan returns None): a NUL byte; an <svg> or <math> with any other
 * element, or markup where text only is read (foreign content); <frameset> (whose modes drop
 * tags), <plaintext>;
 * <a>, <base> or <title> where a table expects rows and cells (the tree builder moves them
 * before the table); <applet>, <marquee> or <object> in a table or template, and table parts
 * in a template (their markers and modes); nesting deeper than MAX_DEPTH.
 * Character references are left as they are (the caller decodes the values that have '&'):
 * the last item of the result says whether any value does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_DEPTH 64

/* Where a table's insertion modes stand: the open tables and cells, innermost last. */
enum { T_TABLE = 1, T_CELL = 2 };

typedef struct {
    const char *start, *end; /* a value, when has */
    int seen, has;           /* the attribute was there; it had a value */
} attr_t;

typedef struct {
    const char *name;
    Py_ssize_t length;
    attr_t href, rel;
    int self_closing; /* "/>" */
} tag_t;

static inline int is_space(unsigned char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\f' || c == '\r';
}

static inline int is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ASCII case-insensitive equality of [s, s + n) and the lowercase ``word``. */
static int is_word(const char *s, Py_ssize_t n, const char *word) {
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c += 32;
        if (word[i] == '\0' || c != (unsigned char)word[i]) return 0;
    }
    return word[n] == '\0';
}

/* The lowercase word of ``words`` that [s, s + n) is, or NULL. */
static const char *which(const char *s, Py_ssize_t n, const char *const *words) {
    for (; *words; words++) {
        if (is_word(s, n, *words)) return *words;
    }
    return NULL;
}

/* The attributes of a tag, from just after its name: p at the '>' that ends it, or NULL when
 * the document ends first (the tag is dropped). ``keep`` (for <a> and <base>): record the
 * first href and rel. */
static const char *read_attributes(const char *p, const char *end, tag_t *tag, int keep) {
    for (;;) {
        const char *gap = p;
        while (p < end && (is_space((unsigned char)*p) || *p == '/')) p++;
        if (p >= end) return NULL;
        if (*p == '>') {
            tag->self_closing = p > gap && p[-1] == '/';
            return p;
        }
        const char *name = p++; /* the first character may be '=' */
        while (p < end && !is_space((unsigned char)*p) && *p != '/' && *p != '>' && *p != '=')
            p++;
        Py_ssize_t length = p - name;
        const char *q = p;
        while (q < end && is_space((unsigned char)*q)) q++;
        const char *vstart = NULL, *vend = NULL;
        if (q < end && *q == '=') {
            p = q + 1;
            while (p < end && is_space((unsigned char)*p)) p++;
            if (p >= end) return NULL;
            if (*p == '"' || *p == '\'') {
                const char *close = memchr(p + 1, *p, end - p - 1);
                if (close == NULL) return NULL;
                vstart = p + 1;
                vend = close;
                p = close + 1;
            } else if (*p != '>') { /* "href=>": no value, as lexbor reads it */
                vstart = p;
                while (p < end && !is_space((unsigned char)*p) && *p != '>') p++;
                vend = p;
            }
        } else {
            p = q;
        }
        if (keep) {
            attr_t *slot = NULL;
            if (length == 4 && is_word(name, 4, "href")) slot = &tag->href;
            else if (length == 3 && is_word(name, 3, "rel")) slot = &tag->rel;
            if (slot != NULL && !slot->seen) {
                slot->seen = 1;
                slot->has = vstart != NULL;
                slot->start = vstart;
                slot->end = vend;
            }
        }
    }
}

/* After a raw text element's start tag: the position of its end tag "</name" followed by
 * whitespace, '/' or '>' (the Standard's "appropriate end tag"), or NULL. */
static const char *find_end_tag(const char *p, const char *end, const char *name, Py_ssize_t n) {
    while ((p = memchr(p, '<', end - p)) != NULL) {
        if (end - p >= n + 3 && p[1] == '/' && is_word(p + 2, n, name) &&
            (is_space((unsigned char)p[n + 2]) || p[n + 2] == '/' || p[n + 2] == '>'))
            return p;
        p++;
    }
    return NULL;
}

/* At '<': whether "</script" and whitespace, '/' or '>' follow (the script's end tag). */
static int is_script_end(const char *p, const char *end) {
    return end - p >= 9 && p[1] == '/' && is_word(p + 2, 6, "script") &&
           (is_space((unsigned char)p[8]) || p[8] == '/' || p[8] == '>');
}

/* At the letters after "<" or "</" in an escaped script: where they end, and whether they
 * spell "script" followed by whitespace, '/' or '>' (which is then consumed). */
static const char *script_word(const char *p, const char *end, int *is_script) {
    const char *word = p;
    while (p < end && is_alpha((unsigned char)*p)) p++;
    *is_script = p < end && p - word == 6 && is_word(word, 6, "script") &&
                 (is_space((unsigned char)*p) || *p == '/' || *p == '>');
    return *is_script ? p + 1 : p;
}

/* The end tag of a script whose text starts at p (its '<'), or NULL when the document ends
 * first: the script data states of the Standard, where "<!--" starts an escaped part in
 * which "<script" starts a double-escaped one that "</script>" does not end. */
static const char *find_script_end(const char *p, const char *end) {
    enum { DATA, ESCAPED, DASH, DASH_DASH, DOUBLE, DOUBLE_DASH, DOUBLE_DASH_DASH } state = DATA;
    int is_script;
    while (p < end) {
        char c = *p;
        switch (state) {
        case DATA:
            if ((p = memchr(p, '<', end - p)) == NULL) return NULL;
            if (is_script_end(p, end)) return p;
            if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
                state = DASH_DASH;
                p += 4;
            } else {
                p++;
            }
            continue;
        case ESCAPED:
        case DASH:
        case DASH_DASH:
            if (c == '-') {
                state = state == ESCAPED ? DASH : DASH_DASH;
                p++;
            } else if (c == '>' && state == DASH_DASH) {
                state = DATA;
                p++;
            } else if (c == '<') {
                state = ESCAPED;
                if (is_script_end(p, end)) return p;
                if (p + 1 < end && is_alpha((unsigned char)p[1])) {
                    p = script_word(p + 1, end, &is_script);
                    if (is_script) state = DOUBLE;
                } else {
                    p++;
                }
            } else {
                state = ESCAPED;
                p++;
            }
            continue;
        default: /* DOUBLE, DOUBLE_DASH, DOUBLE_DASH_DASH */
            if (c == '-') {
                state = state == DOUBLE ? DOUBLE_DASH : DOUBLE_DASH_DASH;
                p++;
            } else if (c == '>' && state == DOUBLE_DASH_DASH) {
                state = DATA;
                p++;
            } else if (c == '<') {
                state = DOUBLE;
                if (p + 2 < end && p[1] == '/' && is_alpha((unsigned char)p[2])) {
                    p = script_word(p + 2, end, &is_script);
                    if (is_script) state = ESCAPED;
                } else {
                    p++;
                }
            } else {
                state = DOUBLE;
                p++;
            }
            continue;
        }
    }
    return NULL;
}

/* The end of a comment whose "<!--" ends at p (the position after the comment). */
static const char *skip_comment(const char *p, const char *end) {
    if (p < end && *p == '>') return p + 1;
    if (end - p >= 2 && p[0] == '-' && p[1] == '>') return p + 2;
    while ((p = memchr(p, '-', end - p)) != NULL) {
        if (end - p >= 3 && p[1] == '-' && p[2] == '>') return p + 3;
        if (end - p >= 4 && p[1] == '-' && p[2] == '!' && p[3] == '>') return p + 4;
        p++;
    }
    return end;
}

static PyObject *text(const char *start, const char *end) {
    return PyUnicode_DecodeUTF8(start, end - start, "replace");
}

static const char *const RAWTEXT[] = {"style", "xmp", "iframe", "noembed", "noframes", NULL};
static const char *const RCDATA[] = {"title", "textarea", NULL};
static const char *const REFUSED[] = {"frameset", "plaintext", NULL};
/* SVG's drawing elements, and its <title> and <desc> holding text only: an <svg> made of these
 * alone (an icon, a chart) is read through. Any other element in it may be an HTML integration
 * point (foreignObject), a link (a), text the tokenizer reads differently (style, script), or
 * HTML that breaks out of the <svg> (p, div, ...). */
#define SVG_TEXT 2
static const char *const SVG[] = {
    "title", "desc", "svg", "g", "path", "use", "circle", "rect", "line", "polyline", "polygon", "ellipse",
    "defs", "symbol", "lineargradient", "radialgradient", "stop", "clippath", "mask",
    "pattern", "filter", "marker", "image", "text", "tspan", "textpath", "animate",
    "animatetransform", "animatemotion", "set", "mpath", "view", "switch", "feblend",
    "fecolormatrix", "fecomponenttransfer", "fecomposite", "feconvolvematrix",
    "fediffuselighting", "fedisplacementmap", "fedistantlight", "fedropshadow", "feflood",
    "fefunca", "fefuncb", "fefuncg", "fefuncr", "fegaussianblur", "feimage", "femerge",
    "femergenode", "femorphology", "feoffset", "fepointlight", "fespecularlighting",
    "fespotlight", "fetile", "feturbulence", NULL};
/* MathML's presentation elements; its token elements (mi, mo, mn, ms, mtext: text
 * integration points) and <annotation> holding text only. <annotation-xml> (an integration
 * point for any markup) and <mglyph>, <malignmark> are not there. */
#define MATH_TEXT 6
static const char *const MATH[] = {
    "mi", "mo", "mn", "ms", "mtext", "annotation", "math", "mrow", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mstyle", "merror", "mpadded", "mphantom", "mfenced",
    "menclose", "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none",
    "mtable", "mtr", "mtd", "mlabeledtr", "mspace", "semantics", NULL};
static const char *const MARKERS[] = {"applet", "marquee", "object", NULL};
static const char *const CELLS[] = {"td", "th", "caption", NULL};
static const char *const ROWS[] = {"tr", "tbody", "thead", "tfoot", "col", "colgroup", NULL};

/* Whether a tag of this name may matter outside foreign content: a name on one of the lists
 * above (or base, template, table, script, svg, math), told by its first letter and length
 * before any of them is compared. Most of a page's tags (li, div, span, p, h2...) are none of
 * these, and the scanner moves on from them at once. */
static int may_matter(const char *name, Py_ssize_t n) {
    unsigned char c = (unsigned char)name[0] | 0x20;
    switch (c) {
    case 'a': return n == 6;                       /* applet */
    case 'b': return n == 4;                       /* base */
    case 'c': return n == 3 || n == 7 || n == 8;   /* col, caption, colgroup */
    case 'f': return n == 8;                       /* frameset */
    case 'i': return n == 6;                       /* iframe */
    case 'm': return n == 4 || n == 7;             /* math, marquee */
    case 'n': return n == 7 || n == 8;             /* noembed, noframes */
    case 'o': return n == 6;                       /* object */
    case 'p': return n == 9;                       /* plaintext */
    case 's': return n == 3 || n == 5 || n == 6;   /* svg, style, script */
    case 't': return n == 2 || n == 5 || n == 8;   /* td th tr, title table tbody thead tfoot,
                                                      template textarea */
    case 'x': return n == 3;                       /* xmp */
    default: return 0;
    }
}

static PyObject *scan(PyObject *module, PyObject *args) {
    const char *data;
    Py_ssize_t size;
    int want_rels;
    if (!PyArg_ParseTuple(args, "y#p", &data, &size, &want_rels)) return NULL;
    if (memchr(data, '\0', size) != NULL) Py_RETURN_NONE;

    const char *p = data, *end = data + size;
    const char *title = NULL, *title_end = NULL;
    const char *base = NULL, *base_end = NULL;
    int has_base = 0, amp = 0, any_rel = 0;
    unsigned char tables[MAX_DEPTH];
    int depth = 0;
    const char *svg[MAX_DEPTH]; /* the open elements, when in an <svg> or a <math> */
    int svg_depth = 0;
    const char *const *foreign = SVG; /* the elements known in it: SVG[] or MATH[] */
    int foreign_text = SVG_TEXT;      /* the first of those, which must hold text only */
    int templates = 0; /* open <template>s: what is in them is not part of the page */
    PyObject *hrefs = PyList_New(0), *rels = NULL;
    if (hrefs == NULL) return NULL;
    if (want_rels && (rels = PyList_New(0)) == NULL) goto fail;

    while (p < end && (p = memchr(p, '<', end - p)) != NULL) {
        p++;
        if (p >= end) break;
        unsigned char c = (unsigned char)*p;
        if (c == '!') {
            if (svg_depth > 0 && end - p >= 8 && memcmp(p + 1, "[CDATA[", 7) == 0) {
                const char *close = p + 8;
                while ((close = memchr(close, ']', end - close)) != NULL &&
                       !(end - close >= 3 && close[1] == ']' && close[2] == '>'))
                    close++;
                p = close ? close + 3 : end;
            } else if (end - p >= 3 && p[1] == '-' && p[2] == '-') {
                p = skip_comment(p + 3, end);
            } else { /* DOCTYPE, CDATA outside foreign content, bogus: to the first '>' */
                const char *close = memchr(p, '>', end - p);
                p = close ? close + 1 : end;
            }
            continue;
        }
        if (c == '?') {
            const char *close = memchr(p, '>', end - p);
            p = close ? close + 1 : end;
            continue;
        }
        int closing = c == '/';
        if (closing) {
            p++;
            if (p >= end) break;
            if (*p == '>') { /* "</>": nothing */
                p++;
                continue;
            }
            if (!is_alpha((unsigned char)*p)) { /* a bogus comment */
                const char *close = memchr(p, '>', end - p);
                p = close ? close + 1 : end;
                continue;
            }
        } else if (!is_alpha(c)) {
            continue; /* a '<' in the text */
        }
        tag_t tag;
        memset(&tag, 0, sizeof tag);
        tag.name = p;
        while (p < end && !is_space((unsigned char)*p) && *p != '/' && *p != '>') p++;
        tag.length = p - tag.name;
        int is_a = !closing && tag.length == 1 && (*tag.name == 'a' || *tag.name == 'A');
        int special = !is_a && may_matter(tag.name, tag.length);
        int is_base = !closing && special && is_word(tag.name, tag.length, "base");
        p = read_attributes(p, end, &tag, (is_a || is_base) && templates == 0);
        if (p == NULL) break; /* a tag cut by the end of the document: dropped */
        p++;                  /* the '>' */

        if (svg_depth > 0) { /* foreign content: known elements only, closed in order */
            if (closing) {
                if (!is_word(tag.name, tag.length, svg[svg_depth - 1])) goto refuse;
                svg_depth--;
            } else {
                const char *word = which(tag.name, tag.length, foreign);
                if (word == NULL) goto refuse;
                int text_only = 0; /* which() gives foreign[i] itself */
                for (int i = 0; i < foreign_text; i++) text_only |= word == foreign[i];
                if (text_only) {
                    /* An integration point (SVG <title>, <desc>; MathML <mi>, <mtext>...) or
                     * an <annotation>, read through when it holds text only. An SVG <title>
                     * is a title to the tree's search for the document's first one, as
                     * lexbor's is. */
                    const char *text_end = p;
                    if (!tag.self_closing) {
                        text_end = memchr(p, '<', end - p);
                        if (text_end == NULL || end - text_end < tag.length + 3 ||
                            text_end[1] != '/' || !is_word(text_end + 2, tag.length, word) ||
                            !(is_space((unsigned char)text_end[tag.length + 2]) ||
                              text_end[tag.length + 2] == '/' || text_end[tag.length + 2] == '>'))
                            goto refuse;
                    }
                    if (word == SVG[0] && title == NULL && templates == 0) {
                        title = p;
                        title_end = text_end;
                    }
                    if (!tag.self_closing) {
                        p = read_attributes(text_end + 2 + tag.length, end, &tag, 0);
                        if (p == NULL) break;
                        p++;
                    }
                    continue;
                }
                if (!tag.self_closing) {
                    if (svg_depth >= MAX_DEPTH) goto refuse;
                    svg[svg_depth++] = word;
                }
            }
            continue;
        }
        if (!is_a && !special) continue; /* nothing to any state kept here */
        if (is_word(tag.name, tag.length, "template")) {
            if (!closing) {
                if (++templates > MAX_DEPTH) goto refuse;
            } else if (templates > 0) {
                templates--;
            }
            continue;
        }
        /* In a template, only the text states matter: no link, title or table is the page's. */
        int in_table = templates == 0 && depth > 0 && tables[depth - 1] == T_TABLE;

        if (closing) {
            if (depth == 0 || templates > 0) continue;
            if (which(tag.name, tag.length, CELLS)) {
                /* </td> closes a <td> only; another cell's end tag is ignored. */
                if (tables[depth - 1] != T_TABLE && tables[depth - 1] - T_CELL ==
                        (is_word(tag.name, tag.length, "td") ? 0
                         : is_word(tag.name, tag.length, "th") ? 1 : 2))
                    depth--;
            } else if (is_word(tag.name, tag.length, "table")) {
                if (tables[depth - 1] != T_TABLE) depth--; /* the cell closes first */
                depth--;
            } else if (which(tag.name, tag.length, ROWS)) {
                if (tables[depth - 1] != T_TABLE) depth--;
            }
            continue;
        }
        if (is_a && templates == 0) {
            if (in_table) goto refuse; /* the tree builder moves it before the table */
            if (tag.href.has) {
                PyObject *href = text(tag.href.start, tag.href.end);
                if (href == NULL || PyList_Append(hrefs, href) < 0) {
                    Py_XDECREF(href);
                    goto fail;
                }
                Py_DECREF(href);
                amp |= memchr(tag.href.start, '&', tag.href.end - tag.href.start) != NULL;
                if (rels != NULL) {
                    PyObject *rel;
                    if (tag.rel.has) {
                        rel = text(tag.rel.start, tag.rel.end);
                        if (rel == NULL) goto fail;
                        any_rel = 1;
                        amp |= memchr(tag.rel.start, '&', tag.rel.end - tag.rel.start) != NULL;
                    } else {
                        rel = Py_NewRef(Py_None);
                    }
                    int failed = PyList_Append(rels, rel) < 0;
                    Py_DECREF(rel);
                    if (failed) goto fail;
                }
            }
            continue;
        }
        if (is_base && templates == 0) {
            if (in_table) goto refuse;
            if (!has_base && tag.href.seen) {
                has_base = 1;
                base = tag.href.start;
                base_end = tag.href.end;
                if (base != NULL)
                    amp |= memchr(base, '&', base_end - base) != NULL;
            }
            continue;
        }
        const char *raw;
        if ((raw = which(tag.name, tag.length, RCDATA)) != NULL) {
            int is_title = raw == RCDATA[0];
            if (is_title && in_table) goto refuse;
            const char *close = find_end_tag(p, end, raw, tag.length);
            const char *stop = close ? close : end;
            if (is_title && title == NULL && templates == 0) {
                title = p;
                title_end = stop;
            }
            if (close == NULL) break;
            p = read_attributes(close + 2 + tag.length, end, &tag, 0);
            if (p == NULL) break;
            p++;
            continue;
        }
        if (is_word(tag.name, tag.length, "script")) {
            const char *close = find_script_end(p, end);
            if (close == NULL) break; /* the rest of the document is the script's */
            p = read_attributes(close + 8, end, &tag, 0);
            if (p == NULL) break;
            p++;
            continue;
        }
        if ((raw = which(tag.name, tag.length, RAWTEXT)) != NULL) {
            const char *close = find_end_tag(p, end, raw, tag.length);
            if (close == NULL) break;
            p = read_attributes(close + 2 + tag.length, end, &tag, 0);
            if (p == NULL) break;
            p++;
            continue;
        }
        if (which(tag.name, tag.length, REFUSED)) goto refuse;
        if (is_word(tag.name, tag.length, "svg") || is_word(tag.name, tag.length, "math")) {
            if (!tag.self_closing) {
                int math = tag.length == 4;
                foreign = math ? MATH : SVG;
                foreign_text = math ? MATH_TEXT : SVG_TEXT;
                svg[0] = math ? "math" : "svg";
                svg_depth = 1;
            }
            continue;
        }
        /* Their markers outlive the end of a cell or template around them: a link in it stays
         * "active", and the tree builder may clone it into the page, or before the table,
         * ahead of the table's earlier links. */
        if ((depth > 0 || templates > 0) && which(tag.name, tag.length, MARKERS)) goto refuse;
        if (templates > 0) {
            /* A cell is a marker too; and a template that starts as table rows or columns
             * ignores the tags its modes do not expect, raw text elements among them. */
            if (which(tag.name, tag.length, CELLS) || which(tag.name, tag.length, ROWS))
                goto refuse;
            continue;
        }
        if (is_word(tag.name, tag.length, "table")) {
            if (in_table) depth--; /* a <table> in a table closes it, then opens */
            if (depth >= MAX_DEPTH) goto refuse;
            tables[depth++] = T_TABLE;
        } else if (depth > 0 && which(tag.name, tag.length, CELLS)) {
            unsigned char kind = T_CELL + (is_word(tag.name, tag.length, "td") ? 0
                                           : is_word(tag.name, tag.length, "th") ? 1 : 2);
            if (!in_table) depth--; /* a cell in a cell closes the first */
            if (depth >= MAX_DEPTH) goto refuse;
            tables[depth++] = kind;
        } else if (depth > 0 && !in_table && which(tag.name, tag.length, ROWS)) {
            depth--; /* a row closes the cell */
        }
    }

    PyObject *title_text, *base_text;
    if (title != NULL) {
        title_text = text(title, title_end);
        if (title_text == NULL) goto fail;
    } else {
        title_text = Py_NewRef(Py_None);
    }
    if (!has_base) base_text = Py_NewRef(Py_None);
    else if (base == NULL) base_text = PyUnicode_FromStringAndSize("", 0);
    else base_text = text(base, base_end);
    if (base_text == NULL) {
        Py_DECREF(title_text);
        goto fail;
    }
    if (rels != NULL && !any_rel) Py_CLEAR(rels);
    return Py_BuildValue("(NNNNO)", title_text, base_text, hrefs,
                         rels != NULL ? rels : Py_NewRef(Py_None), amp ? Py_True : Py_False);

refuse:
    Py_DECREF(hrefs);
    Py_XDECREF(rels);
    Py_RETURN_NONE;
fail:
    Py_DECREF(hrefs);
    Py_XDECREF(rels);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data: bytes, rels: bool) -> (title, base, hrefs, rels, amp) | None\n\n"
     "The raw text of the first <title>, the first <base href> value ('' when it has none),\n"
     "each <a href> value in document order, with ``rels`` each such <a>'s rel (None where\n"
     "it has none; the list is None when no <a> has one), and whether any of these values\n"
     "has a '&'. None: the document needs the full parser."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hrefs", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hrefs(void) { return PyModule_Create(&module); }
