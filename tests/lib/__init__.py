"""Helpers shared by the pytest suites, imported as `lib.<module>`
(tests/conftest.py puts tests/ on sys.path, the only place that does):

- emulator:  Emulator (HTTP, control API, GCS/Vertex conveniences) and
             start_emulator/stop_emulator; the `emu` fixtures are in
             tests/conftest.py
- emuhelp:   the emulator suite's own helpers (spawn, stop, jsonl, rows, q)
- mounthelp: Mount (the real daemon, mounted), the `mount_fs`/`emu_any`
             fixtures and request builders
- proxyhelp: ConnectProxy, an HTTP CONNECT proxy for the TLS tests
- faultlib:  running file operations as child processes with a hard
             timeout, errnos, the fault-matrix records
- fakeserver: FakeServer, hostile replies in front of the emulator
"""
