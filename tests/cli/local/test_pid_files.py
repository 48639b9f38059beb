"""Pid files read while a daemon or a parallel step is writing them."""

from __future__ import annotations

import os
import threading

from cli.local.processes import pid_alive, read_pid, write_pid


def test_an_empty_pid_file_names_no_process(tmp_path):
    pidfile = tmp_path / "nginx.pid"
    pidfile.write_text("")  # as a daemon leaves it between creating and writing it
    assert read_pid(pidfile) is None
    pidfile.write_text("  \n")
    assert read_pid(pidfile) is None


def test_a_pid_file_is_read_whole_or_not_at_all_while_it_is_written(tmp_path):
    pidfile = tmp_path / "api.pid"
    write_pid(pidfile, 1)
    seen: set[int | None] = set()
    stop = threading.Event()

    def read_while_written() -> None:
        while not stop.is_set():
            seen.add(read_pid(pidfile))

    reader = threading.Thread(target=read_while_written)
    reader.start()
    try:
        for pid in range(2, 3000):
            write_pid(pidfile, pid)
    finally:
        stop.set()
        reader.join()
    assert None not in seen
    assert read_pid(pidfile) == 2999
    assert [p.name for p in tmp_path.iterdir()] == ["api.pid"]


def test_this_process_is_alive():
    assert pid_alive(os.getpid())
