"""A read-only FUSE mount of a store's decoded sessions (``crabview mount``).

``tree`` is the filesystem's content, pure Python; ``ops`` adapts it to
libfuse through mfusepy; ``mount`` checks, mounts, daemonizes, unmounts.
Importing this package does not load libfuse.
"""
