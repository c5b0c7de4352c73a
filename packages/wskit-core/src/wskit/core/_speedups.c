/*
 * wskit.core._speedups: the C implementation of WebSocket masking, of
 * building a whole masked frame in one buffer, and of decoding the whole
 * small messages that make up most reads from a server, and of the buffer
 * that a large payload is read into.
 *
 * RFC 6455 section 5.3: every byte of a client frame's payload is XORed with
 * byte (i mod 4) of the 4-byte masking key. This is the only per-byte work on
 * the send path that Python cannot hand to an existing C routine. On the
 * receive path, take_messages turns a read made of whole small frames into
 * messages in one call, where Python would spend more time per frame than the
 * system call that read them. The pure-Python twins live in masking.py,
 * whole_frames.py and frames.py and must give identical results; those
 * modules are the only ones that import this one.
 *
 * The loop works on the widest unit available: AVX2 (32 bytes) when the
 * compiler was told it may use it, SSE2 (16 bytes, the x86-64 baseline),
 * otherwise 8 bytes through a uint64_t. The build never asks for
 * -march=native, so a wheel runs on any CPU of its architecture; instead, on
 * x86 with GCC or Clang, an AVX2 loop is compiled for that one function and
 * chosen at import time when the CPU (and the OS) support it: it is about
 * twice as fast as SSE2 on data that fits in cache. Every block is a multiple
 * of 4 bytes long, so the mask phase stays aligned with the block start and
 * the tail restarts at mask[i & 3].
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* Define WSKIT_NO_AVX2_DISPATCH to build without the run-time AVX2 choice,
 * e.g. to test the SSE2 and the portable loops on an AVX2 machine. */
#if !defined(WSKIT_NO_AVX2_DISPATCH) && !defined(__AVX2__) && \
    (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER)
#define WSKIT_AVX2_DISPATCH 1
#endif

#if defined(__AVX2__) || defined(__SSE2__) || defined(WSKIT_AVX2_DISPATCH)
#include <immintrin.h>
#endif

/* Above this size the GIL is released while masking: the copy takes longer
 * than a switch, and other threads (a reader, an event loop in another
 * thread) can run meanwhile. The input stays exported (and so cannot be
 * resized) until PyBuffer_Release; the output is not yet visible to Python. */
#define WSKIT_NOGIL_THRESHOLD (64 * 1024)

#if defined(WSKIT_AVX2_DISPATCH)
/* Set once at import: the CPU and the OS support AVX2 (libgcc's and
 * compiler-rt's feature checks include the OS's XSAVE support for the YMM
 * registers). Read-only afterwards, so safe without the GIL. */
static int have_avx2 = 0;

/* Mask the 32-byte blocks and return how many bytes were done. */
__attribute__((target("avx2"))) static Py_ssize_t
mask_avx2(const unsigned char *src, unsigned char *dst, Py_ssize_t len,
          uint32_t mask32)
{
    Py_ssize_t i = 0;
    const __m256i m = _mm256_set1_epi32((int)mask32);

    for (; i + 32 <= len; i += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(v, m));
    }
    return i;
}
#endif

static void
mask_bytes(const unsigned char *src, unsigned char *dst, Py_ssize_t len,
           const unsigned char mask[4])
{
    Py_ssize_t i = 0;
    uint32_t mask32;
    uint64_t mask64;

    /* memcpy keeps the mask in memory order whatever the endianness, so a
     * word load of the data lines up with it byte for byte. */
    memcpy(&mask32, mask, 4);
    mask64 = ((uint64_t)mask32 << 32) | mask32;

#if defined(WSKIT_AVX2_DISPATCH)
    if (have_avx2 && len >= 32) {
        i = mask_avx2(src, dst, len, mask32);
    }
#elif defined(__AVX2__)
    {
        const __m256i m = _mm256_set1_epi32((int)mask32);
        for (; i + 32 <= len; i += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(src + i));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(v, m));
        }
    }
#endif
#if defined(__SSE2__)
    {
        const __m128i m = _mm_set1_epi32((int)mask32);
        for (; i + 16 <= len; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(src + i));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(v, m));
        }
    }
#endif
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= mask64;
        memcpy(dst + i, &v, 8);
    }
    for (; i < len; i++) {
        dst[i] = src[i] ^ mask[i & 3];
    }
}

/* Copy the 4-byte masking key out of any buffer; -1 with an exception set. */
static int
read_mask(PyObject *obj, unsigned char out[4])
{
    Py_buffer mask;

    /* PyBUF_SIMPLE: a contiguous run of bytes, whatever the item format. */
    if (PyObject_GetBuffer(obj, &mask, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (mask.len != 4) {
        PyErr_Format(PyExc_ValueError,
                     "mask must be exactly 4 bytes long, got %zd bytes; "
                     "RFC 6455 section 5.3 defines a 32-bit masking key",
                     mask.len);
        PyBuffer_Release(&mask);
        return -1;
    }
    memcpy(out, mask.buf, 4);
    PyBuffer_Release(&mask);
    return 0;
}

/* Mask a whole input buffer into dst, without the GIL when it is large. */
static void
mask_buffer(const Py_buffer *data, unsigned char *dst, const unsigned char mask[4])
{
    if (data->len > WSKIT_NOGIL_THRESHOLD) {
        Py_BEGIN_ALLOW_THREADS
        mask_bytes((const unsigned char *)data->buf, dst, data->len, mask);
        Py_END_ALLOW_THREADS
    }
    else {
        mask_bytes((const unsigned char *)data->buf, dst, data->len, mask);
    }
}

PyDoc_STRVAR(apply_mask_doc,
"apply_mask($module, data, mask, /)\n"
"--\n"
"\n"
"XOR data with the 4-byte mask repeated (RFC 6455 section 5.3).\n"
"\n"
"data is any C-contiguous buffer; mask is any buffer of exactly 4 bytes.\n"
"Returns a new bytes object; the input is left untouched.");

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data;
    unsigned char mask_copy[4];
    PyObject *result;

    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "apply_mask() takes exactly 2 arguments (data, mask), "
                     "%zd given", nargs);
        return NULL;
    }
    if (read_mask(args[1], mask_copy) < 0) {
        return NULL;
    }

    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    mask_buffer(&data, (unsigned char *)PyBytes_AS_STRING(result), mask_copy);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(mask_frame_doc,
"mask_frame($module, head, data, mask, /)\n"
"--\n"
"\n"
"Build a whole masked client frame in one buffer (RFC 6455 section 5.2).\n"
"\n"
"head is the first byte (FIN, RSV bits, opcode); data any C-contiguous buffer\n"
"or an ASCII str (its own UTF-8);\n"
"mask a buffer of exactly 4 bytes. Returns header, masking key and masked\n"
"payload as one new bytes object, so the payload is copied exactly once.");

static PyObject *
mask_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data;
    unsigned char mask_copy[4];
    unsigned char *out;
    long head;
    Py_ssize_t header_len;
    PyObject *result;

    (void)module;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "mask_frame() takes exactly 3 arguments (head, data, mask), "
                     "%zd given", nargs);
        return NULL;
    }
    head = PyLong_AsLong(args[0]);
    if (head == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (head < 0 || head > 255) {
        PyErr_Format(PyExc_ValueError,
                     "head must be the frame's first byte (0-255), got %ld", head);
        return NULL;
    }
    if (read_mask(args[2], mask_copy) < 0) {
        return NULL;
    }

    if (PyUnicode_Check(args[1])) {
        /* ASCII text is its own UTF-8: mask it straight from the str, which
         * saves encoding (a copy) before masking (another). */
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(args[1]) < 0) {
            return NULL;
        }
#endif
        if (!PyUnicode_IS_ASCII(args[1])) {
            PyErr_SetString(PyExc_TypeError,
                            "mask_frame() takes a str only when it is ASCII; "
                            "encode other text to UTF-8 first");
            return NULL;
        }
        /* A str is immutable and args holds a reference: reading it without
         * the GIL in mask_buffer() is safe. PyBuffer_Release() of a view
         * whose obj is NULL does nothing. */
        memset(&data, 0, sizeof(data));
        data.buf = PyUnicode_DATA(args[1]);
        data.len = PyUnicode_GET_LENGTH(args[1]);
    }
    else if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    /* Section 5.2: 7-bit, 16-bit or 64-bit payload length. */
    header_len = data.len < 126 ? 2 : (data.len < 65536 ? 4 : 10);
    result = PyBytes_FromStringAndSize(NULL, header_len + 4 + data.len);
    if (result == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    out = (unsigned char *)PyBytes_AS_STRING(result);
    out[0] = (unsigned char)head;
    if (header_len == 2) {
        out[1] = 0x80 | (unsigned char)data.len;
    }
    else if (header_len == 4) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char)(data.len >> 8);
        out[3] = (unsigned char)data.len;
    }
    else {
        uint64_t length = (uint64_t)data.len;
        int i;
        out[1] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            out[2 + i] = (unsigned char)(length >> (56 - 8 * i));
        }
    }
    memcpy(out + header_len, mask_copy, 4);
    out += header_len + 4;
    mask_buffer(&data, out, mask_copy);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(take_messages_doc,
"take_messages($module, data, limit, /)\n"
"--\n"
"\n"
"Decode the whole single-frame data messages at the start of a read from\n"
"the server (RFC 6455 section 5.2): text as str, binary as bytes.\n"
"\n"
"Stops at the first frame that is not a complete, unmasked text or binary\n"
"frame with FIN set and no RSV bit, whose length is minimally encoded, at\n"
"most limit, and (for text) valid UTF-8; the general parser takes it from\n"
"there with its checks and error messages. Returns (messages, consumed).");

static PyObject *
take_messages(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *p;
    unsigned long long limit;
    Py_ssize_t size, pos = 0;
    PyObject *messages, *result;

    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "take_messages() takes exactly 2 arguments (data, limit), "
                     "%zd given", nargs);
        return NULL;
    }
    limit = PyLong_AsUnsignedLongLong(args[1]);
    if (limit == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    messages = PyList_New(0);
    if (messages == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    p = (const unsigned char *)view.buf;
    size = view.len;
    while (size - pos >= 2) {
        unsigned char head = p[pos];
        unsigned long long length = p[pos + 1];
        Py_ssize_t start = pos + 2;
        PyObject *item;

        if (head != 0x81 && head != 0x82) {
            break;  /* control, fragment, RSV bit: the general parser */
        }
        if (length == 126) {
            if (size - pos < 4) {
                break;
            }
            length = ((unsigned long long)p[pos + 2] << 8) | p[pos + 3];
            start = pos + 4;
            if (length < 126) {
                break;  /* not minimal: the general parser fails it */
            }
        }
        else if (length == 127) {
            int i;
            if (size - pos < 10) {
                break;
            }
            length = 0;
            for (i = 0; i < 8; i++) {
                length = (length << 8) | p[pos + 2 + i];
            }
            start = pos + 10;
            if (length < 65536 || (length >> 63)) {
                break;
            }
        }
        else if (length > 127) {
            break;  /* masked by the server: the general parser fails it */
        }
        if (length > limit || length > (unsigned long long)(size - start)) {
            break;
        }
        if (head == 0x82) {
            item = PyBytes_FromStringAndSize((const char *)p + start,
                                             (Py_ssize_t)length);
        }
        else {
            item = PyUnicode_DecodeUTF8((const char *)p + start,
                                        (Py_ssize_t)length, NULL);
            if (item == NULL &&
                PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_Clear();
                break;  /* the general parser closes with 1007 */
            }
        }
        if (item == NULL || PyList_Append(messages, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(messages);
            PyBuffer_Release(&view);
            return NULL;
        }
        Py_DECREF(item);
        pos = start + (Py_ssize_t)length;
    }
    PyBuffer_Release(&view);
    result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(messages);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, messages);
    {
        PyObject *consumed = PyLong_FromSsize_t(pos);
        if (consumed == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, 1, consumed);
    }
    return result;
}

PyDoc_STRVAR(is_ascii_doc,
"is_ascii(data, /)\n--\n\n"
"Whether every byte of data (any C-contiguous buffer) is below 128: the\n"
"UTF-8 check of a text payload still arriving, without copying it into a\n"
"bytes object first as bytes.isascii() needs.");

static PyObject *
is_ascii(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    const unsigned char *p, *end;
    uint64_t word, acc = 0;
    int ascii;

    (void)module;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    p = (const unsigned char *)view.buf;
    end = p + view.len;
    for (; end - p >= 64; p += 64) {
        for (int i = 0; i < 64; i += 8) {
            memcpy(&word, p + i, 8);
            acc |= word;
        }
        if (acc & UINT64_C(0x8080808080808080)) {
            break;
        }
    }
    for (; p < end; p++) {
        acc |= *p;
    }
    ascii = !(acc & UINT64_C(0x8080808080808080));
    PyBuffer_Release(&view);
    return PyBool_FromLong(ascii);
}

/* A payload being received: the bytes object it is read into, exposed as a
 * writable buffer. Views of it keep it, and so the bytes object, alive: a
 * transport that still holds a view after the payload became a message can
 * never point into freed memory. */
typedef struct {
    PyObject_HEAD
    PyObject *data;
} PayloadStorage;

static int
storage_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    PyObject *data = ((PayloadStorage *)self)->data;
    return PyBuffer_FillInfo(view, self, PyBytes_AS_STRING(data),
                             PyBytes_GET_SIZE(data), 0, flags);
}

static void
storage_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    Py_XDECREF(((PayloadStorage *)self)->data);
    PyObject_Free(self);
    Py_DECREF(type);
}

static PyType_Slot storage_slots[] = {
    {Py_bf_getbuffer, (void *)storage_getbuffer},
    {Py_tp_dealloc, (void *)storage_dealloc},
    {0, NULL},
};

static PyType_Spec storage_spec = {
    "wskit.core._speedups.PayloadStorage",
    sizeof(PayloadStorage),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    storage_slots,
};

typedef struct {
    PyTypeObject *storage_type;
} speedups_state;

PyDoc_STRVAR(payload_buffer_doc,
"payload_buffer(size, /)\n--\n\n"
"A new bytes object of size bytes, not yet filled, and a writable memoryview\n"
"of its storage: a large received payload is read straight into the bytes\n"
"object that becomes the message, without a copy. The caller fills it\n"
"through the view and lets go of every view before anyone else sees the\n"
"bytes object; views keep it alive, so a late one never points into freed\n"
"memory.");

static PyObject *
payload_buffer(PyObject *module, PyObject *arg)
{
    Py_ssize_t size;
    PyObject *data, *view, *result;
    PayloadStorage *storage;
    speedups_state *state = (speedups_state *)PyModule_GetState(module);

    size = PyLong_AsSsize_t(arg);
    if (size == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "payload_buffer() size must be >= 0");
        return NULL;
    }
    data = PyBytes_FromStringAndSize(NULL, size);
    if (data == NULL) {
        return NULL;
    }
    storage = PyObject_New(PayloadStorage, state->storage_type);
    if (storage == NULL) {
        Py_DECREF(data);
        return NULL;
    }
    Py_INCREF(data);
    storage->data = data;
    view = PyMemoryView_FromObject((PyObject *)storage);
    Py_DECREF(storage);
    if (view == NULL) {
        Py_DECREF(data);
        return NULL;
    }
    result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(data);
        Py_DECREF(view);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, data);
    PyTuple_SET_ITEM(result, 1, view);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     apply_mask_doc},
    {"mask_frame", (PyCFunction)(void (*)(void))mask_frame, METH_FASTCALL,
     mask_frame_doc},
    {"take_messages", (PyCFunction)(void (*)(void))take_messages, METH_FASTCALL,
     take_messages_doc},
    {"payload_buffer", (PyCFunction)payload_buffer, METH_O, payload_buffer_doc},
    {"is_ascii", (PyCFunction)is_ascii, METH_O, is_ascii_doc},
    {NULL, NULL, 0, NULL},
};

static int
speedups_exec(PyObject *module)
{
    speedups_state *state = (speedups_state *)PyModule_GetState(module);
    state->storage_type = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &storage_spec, NULL);
    return state->storage_type == NULL ? -1 : 0;
}

static int
speedups_traverse(PyObject *module, visitproc visit, void *arg)
{
    speedups_state *state = (speedups_state *)PyModule_GetState(module);
    Py_VISIT(state->storage_type);
    return 0;
}

static int
speedups_clear(PyObject *module)
{
    speedups_state *state = (speedups_state *)PyModule_GetState(module);
    Py_CLEAR(state->storage_type);
    return 0;
}

static void
speedups_free(void *module)
{
    speedups_clear((PyObject *)module);
}

/* The module's only state is its own type, per module object, so it is safe
 * in every subinterpreter and, on free-threaded builds, without the GIL. */
static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, (void *)speedups_exec},
#if defined(Py_mod_multiple_interpreters)
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if defined(Py_mod_gil)
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyDoc_STRVAR(speedups_doc,
"C implementation of WebSocket masking; import it through wskit.core.masking.");

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "wskit.core._speedups", /* m_name */
    speedups_doc,           /* m_doc */
    sizeof(speedups_state), /* m_size */
    speedups_methods,       /* m_methods */
    speedups_slots,         /* m_slots */
    speedups_traverse,      /* m_traverse */
    speedups_clear,         /* m_clear */
    speedups_free,          /* m_free */
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
#if defined(WSKIT_AVX2_DISPATCH)
    __builtin_cpu_init();
    have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
    return PyModuleDef_Init(&speedups_module);
}
