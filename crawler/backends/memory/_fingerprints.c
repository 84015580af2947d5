/* FingerprintSet.add_many's loop in C (crawler/backends/memory/fingerprints.py says what the
 * table is): the Python loop was most of a big page's claim step (docs/performance.md).
 *
 * insert(keys, checks, mask, fingerprints, start, room, fresh) -> (next, added)
 * adds fingerprints[start:] to the table (keys: array('Q'), checks: array('I'), both of
 * mask + 1 slots), appending each new one to ``fresh``, until ``room`` were added (the table
 * must then grow: the caller grows it and calls again from ``next``) or the list ends. The
 * table and its order of probing are the Python loop's, byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static uint64_t little_endian_64(const unsigned char *b) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | b[i];
    return value;
}

static uint32_t little_endian_32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static PyObject *insert(PyObject *module, PyObject *args) {
    Py_buffer keys, checks;
    Py_ssize_t mask, start, room;
    PyObject *fingerprints, *fresh, *result = NULL;
    (void)module;
    if (!PyArg_ParseTuple(args, "w*w*nO!nnO!", &keys, &checks, &mask, &PyList_Type,
                          &fingerprints, &start, &room, &PyList_Type, &fresh))
        return NULL;
    Py_ssize_t slots = mask + 1;
    if (keys.itemsize != 8 || checks.itemsize != 4 || slots <= 0 || (slots & mask) != 0 ||
        keys.len != slots * 8 || checks.len != slots * 4) {
        PyErr_SetString(PyExc_ValueError, "keys and checks must be array('Q') and array('I') "
                                          "of mask + 1 slots, a power of two");
        goto done;
    }
    uint64_t *key_at = keys.buf;
    uint32_t *check_at = checks.buf;
    Py_ssize_t count = PyList_GET_SIZE(fingerprints), i = start < 0 ? 0 : start, added = 0;
    for (; i < count && added < room; i++) {
        PyObject *fingerprint = PyList_GET_ITEM(fingerprints, i);
        if (!PyBytes_Check(fingerprint) || PyBytes_GET_SIZE(fingerprint) < 12) {
            PyErr_SetString(PyExc_TypeError, "a fingerprint is bytes of at least 12");
            goto done;
        }
        const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(fingerprint);
        uint64_t key = little_endian_64(bytes);
        uint32_t check = little_endian_32(bytes + 8);
        if (key == 0) key = 1;
        size_t slot = (size_t)(key & (uint64_t)mask);
        int known = 0;
        while (key_at[slot] != 0) {
            if (key_at[slot] == key && check_at[slot] == check) {
                known = 1;
                break;
            }
            slot = (slot + 1) & (size_t)mask;
        }
        if (known) continue;
        key_at[slot] = key;
        check_at[slot] = check;
        added++;
        if (PyList_Append(fresh, fingerprint) < 0) goto done;
    }
    result = Py_BuildValue("nn", i, added);
done:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&checks);
    return result;
}

static PyMethodDef methods[] = {
    {"insert", insert, METH_VARARGS,
     "insert(keys, checks, mask, fingerprints, start, room, fresh) -> (next, added)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fingerprints", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fingerprints(void) { return PyModule_Create(&module); }
