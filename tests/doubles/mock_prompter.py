"""The user at the keyring's unlock prompt, for tests: gcr's mock prompter
(the one gnome-keyring's own tests use), run from libgcr-base-3 through
ctypes. gnome-keyring-daemon shows its prompts through the prompter named
by $GNOME_KEYRING_TEST_PROMPTER instead of the desktop's gcr-prompter.

  mock_prompter.py NAME_FILE COUNT_FILE ANSWER DELAY_MS

Connects to $DBUS_SESSION_BUS_ADDRESS, writes its bus name to NAME_FILE,
and answers the first password prompt with ANSWER ("password:SECRET" types
SECRET and presses OK; "cancel" dismisses it) after DELAY_MS. Any later
prompt is dismissed. COUNT_FILE holds how many password prompts were shown
so far, COUNT_FILE.open 1 while a prompt is up (0 once it was answered,
dismissed or closed by the keyring). Runs until its stdin closes."""
import ctypes
import os
import sys
import threading
import time

LIB = "libgcr-base-3.so.1"


def write_file(path, text):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def main():
    name_file, count_file, answer, delay = sys.argv[1:5]
    gcr = ctypes.CDLL(LIB)
    gcr.gcr_mock_prompter_start.restype = ctypes.c_char_p
    gcr.gcr_mock_prompter_is_expecting.restype = ctypes.c_int
    gcr.gcr_mock_prompter_is_prompting.restype = ctypes.c_int
    gcr.gcr_mock_prompter_set_delay_msec.argtypes = [ctypes.c_uint]

    name = gcr.gcr_mock_prompter_start()
    if not name:
        sys.exit("mock_prompter: no bus name")
    gcr.gcr_mock_prompter_set_delay_msec(int(delay))
    if answer.startswith("password:"):
        # varargs: no properties to check, then the NULL that ends the list
        gcr.gcr_mock_prompter_expect_password_ok(answer[9:].encode(), None)
    elif answer == "cancel":
        gcr.gcr_mock_prompter_expect_password_cancel()
    else:
        sys.exit("mock_prompter: unknown answer %r" % answer)
    write_file(count_file, "0\n")
    write_file(count_file + ".open", "0\n")
    write_file(name_file, name.decode() + "\n")

    stop = threading.Event()

    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    shown = 0
    was_open = 0
    # an answer is taken off the queue when its prompt is shown, long before
    # the prompt is answered: queue the next one (a dismissal) at once, so
    # every prompt is counted and answered
    while not stop.wait(0.01):
        if not gcr.gcr_mock_prompter_is_expecting():
            shown += 1
            write_file(count_file, "%d\n" % shown)
            gcr.gcr_mock_prompter_expect_password_cancel()
        is_open = 1 if gcr.gcr_mock_prompter_is_prompting() else 0
        if is_open != was_open:
            was_open = is_open
            write_file(count_file + ".open", "%d\n" % is_open)
    # the bus may be gone already: no goodbye to it
    os._exit(0)


if __name__ == "__main__":
    main()
