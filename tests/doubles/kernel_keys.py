"""The kernel keyring from Python (ctypes over libkeyutils.so.1), for the
tests of the kernel provider: look at what dbroker stored, attack it, fill
a quota, and clean up after a test. Not a double: the real kernel."""
import ctypes
import ctypes.util
import errno
import os

_lib = None

KEY_SPEC_PROCESS_KEYRING = -2
KEY_SPEC_SESSION_KEYRING = -3
KEY_SPEC_USER_KEYRING = -4


class KeyError_(OSError):
    """A keyctl call failed; .errno says why."""


def lib():
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(ctypes.util.find_library("keyutils") or "libkeyutils.so.1",
                           use_errno=True)
        for name in ("add_key", "keyctl_join_session_keyring", "keyctl_get_keyring_ID"):
            getattr(_lib, name).restype = ctypes.c_int32
        for name in ("keyctl_read", "keyctl_describe", "keyctl_get_persistent",
                     "keyctl_invalidate", "keyctl_unlink", "keyctl_link", "keyctl_revoke",
                     "keyctl_setperm", "keyctl_search", "keyctl_set_timeout"):
            getattr(_lib, name).restype = ctypes.c_long
        _lib.keyctl_get_persistent.argtypes = [ctypes.c_int, ctypes.c_int32]
    return _lib


def _check(r):
    if r < 0:
        e = ctypes.get_errno()
        raise KeyError_(e, os.strerror(e))
    return r


def available():
    """None when the kernel has keyrings, else why not."""
    try:
        _check(lib().keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 0))
        return None
    except KeyError_ as e:
        if e.errno == errno.ENOSYS:
            return "this kernel has no keyrings (keyctl: ENOSYS)"
        raise
    except OSError as e:
        return "libkeyutils is not installed (%s)" % e


def join_new_session():
    """Give this process (and its future children) a new, empty session
    keyring, like `keyctl new_session`."""
    return _check(lib().keyctl_join_session_keyring(None))


def persistent(uid=-1):
    """The persistent keyring of uid (-1: ours), linked into this process's
    keyring (root needs CAP_SETUID for another uid's)."""
    return _check(lib().keyctl_get_persistent(uid, KEY_SPEC_PROCESS_KEYRING))


def user_keyring():
    return _check(lib().keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1))


def session_keyring():
    return _check(lib().keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0))


def ids(keyring):
    n = _check(lib().keyctl_read(keyring, None, 0))
    buf = (ctypes.c_int32 * max(1, n // 4))()
    n = _check(lib().keyctl_read(keyring, buf, n))
    return list(buf[:n // 4])


def describe(key):
    """(type, uid, gid, perm, description)."""
    buf = ctypes.create_string_buffer(8192)
    _check(lib().keyctl_describe(key, buf, len(buf)))
    t, uid, gid, perm, desc = buf.value.decode().split(";", 4)
    return t, int(uid), int(gid), int(perm, 16), desc


def read(key):
    n = _check(lib().keyctl_read(key, None, 0))
    buf = ctypes.create_string_buffer(max(1, n))
    n = _check(lib().keyctl_read(key, buf, n))
    return buf.raw[:n]


def search(keyring, desc, type_="user"):
    return _check(lib().keyctl_search(keyring, type_.encode(), desc.encode(), 0))


def add(desc, payload, keyring, type_="user"):
    return _check(lib().add_key(type_.encode(), desc.encode(), payload, len(payload), keyring))


def revoke(key):
    return _check(lib().keyctl_revoke(key))


def link(key, keyring):
    return _check(lib().keyctl_link(key, keyring))


def invalidate(key):
    return _check(lib().keyctl_invalidate(key))


def unlink(key, keyring):
    return _check(lib().keyctl_unlink(key, keyring))


def setperm(key, perm):
    return _check(lib().keyctl_setperm(key, perm))


def errno_of(fn, *args):
    """The errno fn(*args) fails with, or None when it succeeds."""
    try:
        fn(*args)
        return None
    except KeyError_ as e:
        return e.errno


def proc_keys():
    """{key id: /proc/keys line} of the keys this process may view."""
    out = {}
    with open("/proc/keys") as f:
        for line in f:
            out[int(line.split()[0], 16)] = line.rstrip("\n")
    return out


def sweep(prefix, keyrings):
    """Unlink and invalidate every key whose description starts with prefix
    from keyrings (ids); returns how many there were. For cleanup."""
    n = 0
    for ring in keyrings:
        for k in ids(ring):
            line = proc_keys().get(k, "")
            if (" %s" % prefix) not in line:
                continue
            n += 1
            errno_of(invalidate, k)
            errno_of(unlink, k, ring)
    return n


def fill_quota(keyring, tag):
    """Add user keys to keyring until the kernel answers EDQUOT even for a
    one-byte key. Returns how many keys were added."""
    n, size = 0, 16384
    while size >= 1:
        try:
            add("%s:%d" % (tag, n), b"x" * size, keyring)
            n += 1
        except KeyError_ as e:
            if e.errno != errno.EDQUOT:
                raise
            size //= 2
    return n
