/* Read COPY TO STDOUT rows from libpq into ~1 MiB chunks in one C call, without the GIL.
 *
 * Why C: libpq hands over one row per PQgetCopyData call. From Python each call builds a buffer object, a
 * memoryview and a tuple: about 0.3 us a row, as much as psql spends on a row in all, and it holds the GIL,
 * so the other workers and the upload threads of the process wait meanwhile. Here a whole chunk is gathered
 * per call with the GIL released; Python sees one bytes object per chunk.
 *
 * It uses the libpq that psycopg itself loaded (its functions are bound once by address, source.py finds
 * them), never one of its own: a PGconn must only ever be handed to the library that made it. No libpq
 * header is needed to build; the four prototypes below are libpq's stable public API.
 *
 * Built as an optional extension (setup.py): without a C compiler the tool reads in Python instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <string.h>

typedef struct pg_conn PGconn;
typedef int (*get_copy_data_fn)(PGconn *conn, char **buffer, int async);
typedef int (*consume_input_fn)(PGconn *conn);
typedef void (*freemem_fn)(void *ptr);

static get_copy_data_fn get_copy_data = NULL;
static consume_input_fn consume_input = NULL;
static freemem_fn freemem = NULL;

/* What read() says, besides the bytes: the first item of its result. */
enum {
    MORE = 1,         /* the chunk is full, or the socket stayed quiet for timeout_ms: call again */
    END = 0,          /* the COPY is over: PQgetResult has its outcome */
    COPY_ERROR = -2,  /* PQgetCopyData failed: PQerrorMessage says why */
    INPUT_ERROR = -3, /* PQconsumeInput failed: the connection is broken */
    POLL_ERROR = -4,  /* poll() failed (errno other than EINTR) */
};

static PyObject *
bind(PyObject *self, PyObject *args)
{
    unsigned long long get_addr, consume_addr, free_addr;
    if (!PyArg_ParseTuple(args, "KKK", &get_addr, &consume_addr, &free_addr))
        return NULL;
    if (!get_addr || !consume_addr || !free_addr) {
        PyErr_SetString(PyExc_ValueError, "bind() needs the addresses of three libpq functions");
        return NULL;
    }
    get_copy_data = (get_copy_data_fn)(uintptr_t)get_addr;
    consume_input = (consume_input_fn)(uintptr_t)consume_addr;
    freemem = (freemem_fn)(uintptr_t)free_addr;
    Py_RETURN_NONE;
}

/* read(pgconn_ptr, socket, limit, timeout_ms) -> (status, rows, data)
 *
 * Appends whole rows until `limit` bytes are gathered (a row is never split: the last one may pass the
 * limit), the COPY ends, or the socket has nothing for timeout_ms (so the caller can look at its cancel flag
 * at least that often). EINTR returns too, so that Python runs its signal handlers.
 */
static PyObject *
read_chunk(PyObject *self, PyObject *args)
{
    unsigned long long conn_addr;
    int fd, timeout_ms;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "Kini", &conn_addr, &fd, &limit, &timeout_ms))
        return NULL;
    if (get_copy_data == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind() was not called");
        return NULL;
    }
    if (conn_addr == 0 || limit <= 0) {
        PyErr_SetString(PyExc_ValueError, "read() needs a connection and a positive limit");
        return NULL;
    }
    PGconn *conn = (PGconn *)(uintptr_t)conn_addr;
    /* the rows go straight into the bytes object handed back: nobody else can see it until it is returned,
       so it is written without the GIL; growing or shrinking it takes the GIL for that moment */
    Py_ssize_t capacity = limit + (64 << 10);
    PyObject *data = PyBytes_FromStringAndSize(NULL, capacity);
    if (data == NULL)
        return NULL;
    Py_ssize_t used = 0;
    long long rows = 0;
    int status = MORE;
    int no_memory = 0;

    Py_BEGIN_ALLOW_THREADS
    while (used < limit) {
        char *row = NULL;
        int size = get_copy_data(conn, &row, 1);  /* 1: never block inside libpq */
        if (size > 0) {
            if (used + size > capacity) {  /* a row larger than what is left */
                Py_BLOCK_THREADS
                no_memory = _PyBytes_Resize(&data, (used + size) * 2) < 0;
                Py_UNBLOCK_THREADS
                if (no_memory) {
                    freemem(row);
                    break;
                }
                capacity = (used + size) * 2;
            }
            memcpy(PyBytes_AS_STRING(data) + used, row, (size_t)size);
            used += size;
            rows++;
            freemem(row);
        } else if (size == 0) {  /* nothing complete in libpq's buffer: wait for the socket */
            struct pollfd ready = {fd, POLLIN, 0};
            int polled = poll(&ready, 1, timeout_ms);
            if (polled == 0 || (polled < 0 && errno == EINTR))
                break;  /* MORE: back to Python, which checks for cancellation and runs signal handlers */
            if (polled < 0) {
                status = POLL_ERROR;
                break;
            }
            if (!consume_input(conn)) {
                status = INPUT_ERROR;
                break;
            }
        } else {
            status = size == -1 ? END : COPY_ERROR;
            break;
        }
    }
    Py_END_ALLOW_THREADS

    if (no_memory)  /* _PyBytes_Resize freed the object and set MemoryError */
        return NULL;
    if (_PyBytes_Resize(&data, used) < 0)
        return NULL;
    return Py_BuildValue("iLN", status, rows, data);
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_VARARGS, "bind(get_copy_data, consume_input, freemem): libpq's functions by address"},
    {"read", read_chunk, METH_VARARGS,
     "read(pgconn_ptr, socket, limit, timeout_ms) -> (status, rows, data): COPY rows gathered up to limit"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_copyreader", "COPY TO STDOUT rows from libpq, a chunk per call, without the GIL.",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__copyreader(void)
{
    return PyModule_Create(&module);
}
