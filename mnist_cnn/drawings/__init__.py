"""The drawings people save: the SQLite store, folders and zips in and out."""
