"""crabview: see a crabtalk session store exactly as the daemon does."""

__version__ = "0.1.0"
