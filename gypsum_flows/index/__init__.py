"""The metadata indexer: builds the SQLite index of section 8 of docs/gypsum-api.md from any gypsum server.

:mod:`.db` writes the file, :mod:`.reader` reads a gypsum server through the
client's reads (``/list`` and ``/file`` only) and :mod:`.build` runs a fresh
build or an incremental update that replays the server's ``..logs``.
"""
