"""The metadata indexer: builds the SQLite index of section 8 of docs/gypsum-api.md from any gypsum server.

:mod:`.db` writes the file, :mod:`.registry` reads a registry over the REST
API (``/list`` and ``/file`` only) and :mod:`.build` runs a fresh build or an
incremental update that replays the registry's ``..logs``.
"""
