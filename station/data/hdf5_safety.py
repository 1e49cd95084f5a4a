"""A run file is data, never instructions: what the station refuses to let HDF5 do for a file.

* **No filter plugins.** HDF5 loads a shared library from its plugin folder for any filter
  a dataset names that it does not know, and a library's constructor runs when it is
  loaded; a crafted file names the filter. The station's files use only HDF5's own
  filters (deflate, shuffle), so plugin loading is switched off for the process
  (:func:`no_filter_plugins`: the plugin search path emptied) as soon as the station's
  file code is imported.
* **Nothing outside the file.** A file whose objects live elsewhere is refused before
  anything is read (:func:`check_self_contained`): external links (another file opened on
  the file's say-so), soft links, external raw-data storage (a path the file names, such
  as a FIFO or ``/dev/zero``, read as its data) and virtual datasets (mapped from other
  files), and any filter that is not HDF5's own.
"""

from __future__ import annotations

import h5py
from h5py import h5d, h5z

from station.core.errors import DataFileError

#: the filters HDF5 has built in (no library is loaded for them)
BUILTIN_FILTERS = frozenset({h5z.FILTER_DEFLATE, h5z.FILTER_SHUFFLE, h5z.FILTER_FLETCHER32, h5z.FILTER_SZIP,
                             h5z.FILTER_NBIT, h5z.FILTER_SCALEOFFSET})


def no_filter_plugins() -> None:
    """Empty HDF5's plugin search path: no file can make this process load a library."""
    while h5py.h5pl.size():
        h5py.h5pl.remove(0)


def check_self_contained(f: h5py.File, path: str) -> None:
    """DataFileError (one line) unless every object of ``f`` is stored in the file itself,
    reached by hard links, with HDF5's own filters only."""
    problems: list[str] = []

    def visit(name: str, link: object) -> None:
        if problems:
            return
        if isinstance(link, h5py.ExternalLink):
            problems.append(f"{name} is a link into another file ({link.filename})")
        elif isinstance(link, h5py.SoftLink):
            problems.append(f"{name} is a soft link ({link.path})")
        else:
            obj = f.get(name)
            if isinstance(obj, h5py.Dataset):
                problem = _dataset_problem(obj)
                if problem:
                    problems.append(f"{name} {problem}")

    f.visititems_links(visit)
    if problems:
        raise DataFileError(f"{path}: not a run file the station reads: {problems[0]}")


def _dataset_problem(ds: h5py.Dataset) -> str:
    plist = ds.id.get_create_plist()
    if plist.get_layout() == h5d.VIRTUAL:
        return "is a virtual dataset (its data lives in other files)"
    if plist.get_external_count():
        return f"stores its data outside the file ({plist.get_external(0)[0].decode('utf-8', 'replace')})"
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in BUILTIN_FILTERS:
            return f"needs filter {code}, not one of HDF5's own (a plugin library)"
    return ""


no_filter_plugins()
