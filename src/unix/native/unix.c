/*
 * libvirt_dbus_unix: the few UNIX socket calls Node has no API for.
 *
 *   getPeerCred(fd)                      -> [pid, uid, gid] | -errno   (SO_PEERCRED; AF_UNIX only)
 *   recvMsg(fd, buf, fdsOut, flagsOut)   -> bytes | -errno             (SCM_RIGHTS in, MSG_CMSG_CLOEXEC)
 *   sendMsg(fd, buf, fds | undefined)    -> bytes | -errno             (SCM_RIGHTS out on the first byte)
 *   socketPair()                         -> [fd, fd] | -errno          (non-blocking, close-on-exec)
 *   dupFd(fd) -> fd | -errno, closeFd(fd) -> 0 | -errno, shutdownFd(fd, how) -> 0 | -errno
 *   abstractSocket(name, listen)         -> fd | -errno             (Linux abstract namespace, exact length)
 *   new Poller(fd, callback(status, events)): start(events), stop(), close(), ref(), unref()
 *   trimHeap()                           -> 1 | 0                      (malloc_trim(0): free pages back to the OS)
 *
 * Every call is synchronous and non-blocking; failures are returned as negative errno values so the
 * JavaScript side builds its own typed errors. Readiness comes from a libuv uv_poll_t on Node's loop.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <stddef.h>
#include <unistd.h>

/* The kernel accepts at most SCM_MAX_FD (253) descriptors per message; room for all of them means
 * MSG_CTRUNC only happens when a peer sends something other than SCM_RIGHTS. */
#define MAX_FDS 253
#define FLAG_CTRUNC 1

#define CHECK(call)                                                           \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      napi_throw_error(env, NULL, "libvirt_dbus_unix: N-API call failed");    \
      return NULL;                                                            \
    }                                                                         \
  } while (0)

static napi_value int_value(napi_env env, int64_t v) {
  napi_value r;
  if (napi_create_int64(env, v, &r) != napi_ok) return NULL;
  return r;
}

/* Reads argument i as a non-negative int32 (an fd or a small count); throws a TypeError otherwise. */
static int int_arg(napi_env env, napi_value *argv, size_t argc, size_t i, int32_t *out) {
  napi_valuetype t = napi_undefined;
  if (i >= argc || napi_typeof(env, argv[i], &t) != napi_ok || t != napi_number ||
      napi_get_value_int32(env, argv[i], out) != napi_ok || *out < 0) {
    napi_throw_type_error(env, NULL, "expected a non-negative integer argument");
    return 0;
  }
  return 1;
}

static int buffer_arg(napi_env env, napi_value *argv, size_t argc, size_t i, void **data, size_t *len) {
  bool ok = false;
  if (i >= argc || napi_is_buffer(env, argv[i], &ok) != napi_ok || !ok ||
      napi_get_buffer_info(env, argv[i], data, len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer argument");
    return 0;
  }
  return 1;
}

static napi_value get_peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr;
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!int_arg(env, argv, argc, 0, &fd)) return NULL;
  /* Other families (TCP) answer SO_PEERCRED with made-up values; only a UNIX peer has credentials. */
  struct sockaddr_storage addr;
  socklen_t alen = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &alen) < 0) return int_value(env, -errno);
  if (addr.ss_family != AF_UNIX) return int_value(env, -EAFNOSUPPORT);
#ifdef SO_PEERCRED
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return int_value(env, -errno);
  int64_t vals[3] = {cred.pid, cred.uid, cred.gid};
#else
  uid_t uid;
  gid_t gid;
  if (getpeereid(fd, &uid, &gid) < 0) return int_value(env, -errno);
  int64_t vals[3] = {0, uid, gid}; /* no portable way to learn the pid */
#endif
  CHECK(napi_create_array_with_length(env, 3, &arr));
  for (uint32_t i = 0; i < 3; i++) CHECK(napi_set_element(env, arr, i, int_value(env, vals[i])));
  return arr;
}

static napi_value recv_msg(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd;
  void *data, *flags_data;
  size_t len, flags_len;
  napi_typedarray_type ftype;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!int_arg(env, argv, argc, 0, &fd) || !buffer_arg(env, argv, argc, 1, &data, &len)) return NULL;
  bool is_array = false, is_typed = false;
  if (argc < 4 || napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
      napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[3], &ftype, &flags_len, &flags_data, NULL, NULL) != napi_ok ||
      ftype != napi_int32_array || flags_len < 1) {
    napi_throw_type_error(env, NULL, "recvMsg(fd, buffer, fdsOut: number[], flagsOut: Int32Array)");
    return NULL;
  }

  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  ssize_t n;
#ifdef MSG_CMSG_CLOEXEC
  const int rflags = MSG_CMSG_CLOEXEC;
#else
  const int rflags = 0;
#endif
  do n = recvmsg(fd, &msg, rflags);
  while (n < 0 && errno == EINTR);
  if (n < 0) return int_value(env, -errno);

  ((int32_t *)flags_data)[0] = (msg.msg_flags & MSG_CTRUNC) ? FLAG_CTRUNC : 0;
  uint32_t count = 0;
  napi_status st = napi_ok;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < nfds; i++) {
      int rfd;
      memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof rfd);
#ifndef MSG_CMSG_CLOEXEC
      fcntl(rfd, F_SETFD, FD_CLOEXEC);
#endif
      /* Hand every fd to JavaScript, or close it: none may leak even when N-API fails. */
      napi_value v = st == napi_ok ? int_value(env, rfd) : NULL;
      if (v == NULL || (st = napi_set_element(env, argv[2], count, v)) != napi_ok) {
        st = napi_generic_failure;
        close(rfd);
      } else {
        count++;
      }
    }
  }
  if (st != napi_ok) {
    napi_throw_error(env, NULL, "libvirt_dbus_unix: could not return received descriptors");
    return NULL;
  }
  return int_value(env, n);
}

static napi_value send_msg(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  void *data;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!int_arg(env, argv, argc, 0, &fd) || !buffer_arg(env, argv, argc, 1, &data, &len)) return NULL;

  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  uint32_t nfds = 0;
  bool is_array = false;
  if (argc >= 3 && napi_is_array(env, argv[2], &is_array) == napi_ok && is_array)
    CHECK(napi_get_array_length(env, argv[2], &nfds));
  if (nfds > MAX_FDS) return int_value(env, -ETOOMANYREFS);
  if (nfds > 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value v;
      int32_t sfd;
      CHECK(napi_get_element(env, argv[2], i, &v));
      if (!int_arg(env, &v, 1, 0, &sfd)) return NULL;
      memcpy(CMSG_DATA(c) + i * sizeof(int), &sfd, sizeof sfd);
    }
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return int_value(env, n < 0 ? -errno : n);
}

static napi_value socket_pair(napi_env env, napi_callback_info info) {
  int sv[2];
  napi_value arr;
  (void)info;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return int_value(env, -errno);
  CHECK(napi_create_array_with_length(env, 2, &arr));
  if (napi_set_element(env, arr, 0, int_value(env, sv[0])) != napi_ok ||
      napi_set_element(env, arr, 1, int_value(env, sv[1])) != napi_ok) {
    close(sv[0]);
    close(sv[1]);
    CHECK(napi_generic_failure);
  }
  return arr;
}

/* Node binds and connects abstract UNIX sockets with the whole sun_path as the name (the name padded
 * with NULs), which no other program uses: a D-Bus daemon at unix:abstract=… is unreachable that way.
 * This binds (and listens) or connects with the name's exact length. */
static napi_value abstract_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *name;
  size_t len;
  bool listen_mode = false;
  struct sockaddr_un addr;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!buffer_arg(env, argv, argc, 0, &name, &len)) return NULL;
  if (argc > 1) CHECK(napi_get_value_bool(env, argv[1], &listen_mode));
  if (len + 1 > sizeof addr.sun_path) return int_value(env, -ENAMETOOLONG);
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path + 1, name, len);
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_value(env, -errno);
  int r = listen_mode ? bind(fd, (struct sockaddr *)&addr, alen) : connect(fd, (struct sockaddr *)&addr, alen);
  if (r == 0 && listen_mode) r = listen(fd, 128);
  if (r < 0) {
    int e = errno;
    close(fd);
    return int_value(env, -e);
  }
  return int_value(env, fd);
}

static napi_value dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!int_arg(env, argv, argc, 0, &fd)) return NULL;
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return int_value(env, r < 0 ? -errno : r);
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!int_arg(env, argv, argc, 0, &fd)) return NULL;
  /* On Linux the fd is released even when close() reports EINTR, so never retry. */
  int r = close(fd);
  return int_value(env, r < 0 && errno != EINTR ? -errno : 0);
}

static napi_value shutdown_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, how;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!int_arg(env, argv, argc, 0, &fd) || !int_arg(env, argv, argc, 1, &how)) return NULL;
  return int_value(env, shutdown(fd, how) < 0 ? -errno : 0);
}

/* ---- Poller: a uv_poll_t calling back into JavaScript ---- */

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref self;     /* strong until close(): an active poller is never collected */
  napi_ref callback;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup; /* closes the handle when a worker's environment goes away */
  int closing;
} poller_t;

static void poller_closed(uv_handle_t *h) {
  poller_t *p = h->data;
  napi_delete_reference(p->env, p->callback);
  napi_delete_reference(p->env, p->self);
  napi_async_destroy(p->env, p->async);
  if (p->cleanup) napi_remove_async_cleanup_hook(p->cleanup); /* also tells a tearing-down env we are done */
  free(p);
}

static void poller_begin_close(poller_t *p) {
  if (p->closing) return;
  p->closing = 1;
  uv_poll_stop(&p->handle); /* removes the fd from epoll at once, so the caller may close it next */
  uv_close((uv_handle_t *)&p->handle, poller_closed);
}

/* An environment (a worker thread) ending with the poller still open: libuv refuses to close a loop
 * with open handles, so close ours and let Node wait for poller_closed. */
static void poller_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  (void)hook;
  poller_begin_close(arg);
}

static void poller_event(uv_poll_t *h, int status, int events) {
  poller_t *p = h->data;
  napi_env env = p->env;
  napi_handle_scope scope;
  napi_value cb, self, argv[2], result;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok &&
      napi_get_reference_value(env, p->self, &self) == napi_ok &&
      napi_create_int32(env, status, &argv[0]) == napi_ok && napi_create_int32(env, events, &argv[1]) == napi_ok &&
      napi_make_callback(env, p->async, self, cb, 2, argv, &result) == napi_pending_exception) {
    /* A throwing listener must surface as an uncaught exception, as it would from a net.Socket. */
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static poller_t *unwrap_poller(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, &p) != napi_ok || p == NULL) {
    napi_throw_error(env, NULL, "Poller is closed");
    return NULL;
  }
  return p;
}

static napi_value poller_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, name;
  napi_valuetype t = napi_undefined;
  int32_t fd;
  uv_loop_t *loop;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (!int_arg(env, argv, argc, 0, &fd)) return NULL;
  if (argc < 2 || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "new Poller(fd, callback)");
    return NULL;
  }
  CHECK(napi_get_uv_event_loop(env, &loop));
  poller_t *p = calloc(1, sizeof *p);
  if (p == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  int r = uv_poll_init(loop, &p->handle, fd); /* also makes the fd non-blocking */
  if (r < 0) {
    free(p);
    napi_throw_error(env, uv_err_name(r), uv_strerror(r));
    return NULL;
  }
  p->env = env;
  p->handle.data = p;
  if (napi_create_string_utf8(env, "UnixFdPoller", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, self, name, &p->async) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok ||
      napi_create_reference(env, self, 1, &p->self) != napi_ok || napi_wrap(env, self, p, NULL, NULL, NULL) != napi_ok ||
      napi_add_async_cleanup_hook(env, poller_teardown, p, &p->cleanup) != napi_ok) {
    /* Not reachable in practice; close the handle and let its close callback tidy up. */
    poller_begin_close(p);
    napi_throw_error(env, NULL, "libvirt_dbus_unix: could not create Poller");
    return NULL;
  }
  return self;
}

static napi_value poller_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t events;
  poller_t *p = unwrap_poller(env, info, &argc, argv);
  if (p == NULL || !int_arg(env, argv, argc, 0, &events)) return NULL;
  int r = uv_poll_start(&p->handle, events & (UV_READABLE | UV_WRITABLE | UV_DISCONNECT), poller_event);
  return int_value(env, r);
}

static napi_value poller_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  poller_t *p = unwrap_poller(env, info, &argc, NULL);
  if (p == NULL) return NULL;
  return int_value(env, uv_poll_stop(&p->handle));
}

static napi_value poller_ref(napi_env env, napi_callback_info info, int ref) {
  size_t argc = 0;
  poller_t *p = unwrap_poller(env, info, &argc, NULL);
  if (p == NULL) return NULL;
  if (ref) uv_ref((uv_handle_t *)&p->handle);
  else uv_unref((uv_handle_t *)&p->handle);
  return NULL;
}
static napi_value poller_do_ref(napi_env env, napi_callback_info info) { return poller_ref(env, info, 1); }
static napi_value poller_do_unref(napi_env env, napi_callback_info info) { return poller_ref(env, info, 0); }

/* Stops watching (the fd may be closed right after) and frees the handle. */
static napi_value poller_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value self;
  void *p = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, NULL, &self, NULL));
  if (napi_remove_wrap(env, self, &p) != napi_ok || p == NULL) return NULL; /* already closed */
  poller_begin_close(p);
  return NULL;
}

/* glibc keeps freed memory in its arenas; after a burst of large Buffers that is most of the growth of
 * a Node process. 0 where there is nothing to trim or no glibc. */
static napi_value trim_heap(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __GLIBC__
  return int_value(env, malloc_trim(0));
#else
  return int_value(env, 0);
#endif
}

#define EXPORT_FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      EXPORT_FN("start", poller_start), EXPORT_FN("stop", poller_stop), EXPORT_FN("close", poller_close),
      EXPORT_FN("ref", poller_do_ref), EXPORT_FN("unref", poller_do_unref),
  };
  napi_value poller_class;
  CHECK(napi_define_class(env, "Poller", NAPI_AUTO_LENGTH, poller_new, NULL, sizeof methods / sizeof methods[0],
                          methods, &poller_class));
  napi_property_descriptor fns[] = {
      EXPORT_FN("getPeerCred", get_peer_cred), EXPORT_FN("recvMsg", recv_msg),
      EXPORT_FN("sendMsg", send_msg),          EXPORT_FN("socketPair", socket_pair),
      EXPORT_FN("dupFd", dup_fd),              EXPORT_FN("closeFd", close_fd),
      EXPORT_FN("shutdownFd", shutdown_fd),   EXPORT_FN("abstractSocket", abstract_socket),
      EXPORT_FN("trimHeap", trim_heap),
  };
  CHECK(napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  CHECK(napi_set_named_property(env, exports, "Poller", poller_class));
  CHECK(napi_set_named_property(env, exports, "UV_READABLE", int_value(env, UV_READABLE)));
  CHECK(napi_set_named_property(env, exports, "UV_WRITABLE", int_value(env, UV_WRITABLE)));
  CHECK(napi_set_named_property(env, exports, "UV_DISCONNECT", int_value(env, UV_DISCONNECT)));
  CHECK(napi_set_named_property(env, exports, "FLAG_CTRUNC", int_value(env, FLAG_CTRUNC)));
  CHECK(napi_set_named_property(env, exports, "MAX_FDS", int_value(env, MAX_FDS)));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
