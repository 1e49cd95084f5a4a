"""Run files: the crash-safe HDF5 writer, the lazy reader (formats 1 and 2), recovery, export."""
