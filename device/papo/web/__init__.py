"""The local web API (and, later, the config page) served by Litestar."""
