"""Every record as a JSON-compatible document, and back, so that a run can cross a process
or a network (the bluesky event model's names: ``start``, one ``descriptor`` per stream,
``event``, ``stop``; and ``progress`` and ``notice``, which the event model leaves to logs).

* **start** holds what :class:`~.records.RunStart` holds: the parameters with units, the
  main curve, the plot declarations and figure set, the light instrument (axis, darks,
  calibration), the sample, the instruments, the configuration text.
* **descriptor** (one per stream, after the start): its columns with units, dtype,
  description, label and the flags that hide them; whether rows carry spectra.
* **event**: the stream, the row number, the values, and a spectrum as its calibrated and
  raw arrays.
* Arrays are ``{"dtype", "shape", "base64"}`` (little-endian bytes); floats that JSON cannot
  hold are the strings ``"nan"``, ``"inf"``, ``"-inf"``. Every document passes
  ``json.dumps(..., allow_nan=False)``.

Decoding is data, never code: every field is checked for its type and range, arrays for
their dtype (from a short list) and size, and a bad document raises
:class:`~station.core.errors.DataFileError` naming what is wrong.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from drivers.light_meter import DarkLibrary, LightDescription, SpectrumAxis
from drivers.spectral_result import UNITS, SpectralResult
from station.core.errors import DataFileError

from .records import (
    Column,
    Event,
    MainCurve,
    Marks,
    Notice,
    Plot,
    Progress,
    Record,
    RunStart,
    RunStop,
    Stream,
)

#: the array dtypes a document may carry
ARRAY_DTYPES = frozenset({"<f8", "<f4", "<i8", "<i4", "<i2", "<u2", "|u1", "|i1"})
#: the most elements one array may have (a spectrum is a few thousand; a dark library a few dozen of them)
MAX_ARRAY_ELEMENTS = 10_000_000
#: the longest text field
MAX_TEXT = 1_000_000
DOCUMENT_KINDS = ("start", "descriptor", "event", "progress", "notice", "stop")


# --- numbers and arrays ------------------------------------------------------------------
def number(value: float) -> float | str:
    """A float JSON can hold: non-finite values as "nan", "inf", "-inf"."""
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def from_number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise DataFileError(f"{where}: a number is expected, not {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    raise DataFileError(f"{where}: a number is expected, not {str(value)[:40]!r}")


def encode_array(array: Any) -> dict[str, Any]:
    a = np.asarray(array)
    a = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
    dtype = a.dtype.str
    if dtype not in ARRAY_DTYPES:
        a, dtype = a.astype("<f8"), "<f8"
    return {"dtype": dtype, "shape": list(a.shape), "base64": base64.b64encode(np.ascontiguousarray(a).tobytes())
            .decode("ascii")}


def decode_array(document: Any, where: str) -> np.ndarray:
    if not isinstance(document, Mapping):
        raise DataFileError(f"{where}: an array document is expected")
    dtype, shape, data = document.get("dtype"), document.get("shape"), document.get("base64")
    if dtype not in ARRAY_DTYPES:
        raise DataFileError(f"{where}: array dtype must be one of {', '.join(sorted(ARRAY_DTYPES))}")
    if not (isinstance(shape, list) and len(shape) <= 3 and all(isinstance(n, int) and 0 <= n for n in shape)):
        raise DataFileError(f"{where}: array shape must be a list of up to 3 sizes")
    size = int(np.prod(shape)) if shape else 1
    if size > MAX_ARRAY_ELEMENTS or not isinstance(data, str):
        raise DataFileError(f"{where}: array too large or without data")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise DataFileError(f"{where}: array data is not base64") from None
    if len(raw) != size * np.dtype(dtype).itemsize:
        raise DataFileError(f"{where}: array data does not match its shape and dtype")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.dtype(dtype).newbyteorder("="))


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        raise DataFileError(f"{where}: text is expected")
    return value


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise DataFileError(f"{where}: a list of texts is expected")
    return tuple(_text(v, where) for v in value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise DataFileError(f"{where}: true or false is expected")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DataFileError(f"{where}: an object is expected")
    return value


def _text_map(value: Any, where: str) -> dict[str, str]:
    return {_text(k, where): _text(v, where) for k, v in _mapping(value, where).items()}


def plain_value(value: Any) -> Any:
    """A parameter or calibration value as plain data (a document's, and a plan's)."""
    if isinstance(value, np.ndarray):
        return {"array": encode_array(value)}
    if isinstance(value, (np.floating, float)):
        return number(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return str(value)


def _from_value(value: Any, where: str) -> Any:
    if isinstance(value, Mapping) and set(value) == {"array"}:
        return decode_array(value["array"], where)
    if isinstance(value, list):
        return [_from_value(v, where) for v in value]
    if value in ("nan", "inf", "-inf"):
        return float(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return _text(value, where) if isinstance(value, str) else value
    raise DataFileError(f"{where}: a plain value is expected")


# --- declarations ------------------------------------------------------------------------
def column_document(c: Column) -> dict[str, Any]:
    return {"name": c.name, "units": c.units, "description": c.description, "dtype": c.dtype, "label": c.label,
            "display_units": c.display_units, "hidden_by": list(c.hidden_by)}


def column_from(d: Any, where: str) -> Column:
    d = _mapping(d, where)
    return Column(_text(d["name"], where), _text(d.get("units", ""), where), _text(d.get("description", ""), where),
                  _text(d.get("dtype", "f8"), where), _text(d.get("label", ""), where),
                  _text(d.get("display_units", ""), where), _texts(d.get("hidden_by", []), where))


def stream_document(s: Stream) -> dict[str, Any]:
    return {"name": s.name, "columns": [column_document(c) for c in s.columns], "spectra": s.spectra,
            "description": s.description, "display": list(s.display), "flags": list(s.flags)}


def stream_from(d: Any, where: str = "stream") -> Stream:
    d = _mapping(d, where)
    try:
        return Stream(_text(d["name"], where), tuple(column_from(c, where) for c in d["columns"]),
                      _flag(d.get("spectra", False), where), _text(d.get("description", ""), where),
                      _texts(d.get("display", []), where), _texts(d.get("flags", []), where))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{where}: not a stream declaration ({exc})") from None


def plot_document(p: Plot) -> dict[str, Any]:
    return {"title": p.title, "stream": p.stream, "kind": p.kind, "x": p.x, "y": p.y, "log_x": p.log_x,
            "log_y": p.log_y, "absolute": p.absolute, "x_in_hours": p.x_in_hours, "prediction": p.prediction,
            "marks": [{"stream": m.stream, "x": m.x, "where": m.where, "equals": number(m.equals), "value": m.value,
                       "label": m.label} for m in p.marks]}


def plot_from(d: Any, where: str = "plot") -> Plot:
    d = _mapping(d, where)
    try:
        marks = tuple(Marks(_text(m["stream"], where), _text(m["x"], where), _text(m["where"], where),
                            from_number(m["equals"], where), _text(m["value"], where),
                            _label(_text(m["label"], where), where)) for m in d.get("marks", []))
        return Plot(_text(d["title"], where), _text(d["stream"], where), _text(d.get("kind", "curve"), where),
                    _text(d.get("x", ""), where), _text(d.get("y", ""), where), _flag(d.get("log_x", False), where),
                    _flag(d.get("log_y", False), where), _flag(d.get("absolute", False), where),
                    _flag(d.get("x_in_hours", False), where), marks, _flag(d.get("prediction", False), where))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{where}: not a plot declaration ({exc})") from None


def _label(text: str, where: str) -> str:
    """A mark's label is formatted with ``value`` only: any other field or attribute is refused
    (a format string from a file must not reach into objects)."""
    import string

    for _, field_name, spec, _ in string.Formatter().parse(text):
        if field_name is not None and (field_name != "value" or "{" in (spec or "")):
            raise DataFileError(f"{where}: a mark label may use {{value}} only")
    return text


def main_document(m: MainCurve) -> dict[str, Any]:
    return {"stream": m.stream, "axis": m.axis, "signal": m.signal, "auxiliary": list(m.auxiliary)}


def main_from(d: Any, where: str = "main") -> MainCurve:
    d = _mapping(d, where)
    return MainCurve(_text(d["stream"], where), _text(d["axis"], where), _text(d["signal"], where),
                     _texts(d.get("auxiliary", []), where))


def light_document(light: LightDescription | None) -> dict[str, Any] | None:
    if light is None:
        return None
    axis = light.axis
    return {"identity": light.identity,
            "axis": {"wavelength_nm": encode_array(np.asarray(axis.wavelength_nm, float)), "quantity": axis.quantity,
                     "units": axis.units, "raw_units": axis.raw_units, "stored_dtype": axis.stored_dtype},
            "darks": None if light.darks is None else {
                "integration_time_s": encode_array(np.asarray(light.darks.integration_time_s, float)),
                "spectra": encode_array(np.asarray(light.darks.spectra, float)), "units": light.darks.units},
            "calibration": {k: plain_value(v) for k, v in light.calibration.items()},
            "calibration_units": dict(light.calibration_units)}


def light_from(d: Any, where: str = "light") -> LightDescription | None:
    if d is None:
        return None
    d = _mapping(d, where)
    a = _mapping(d["axis"], where)
    quantity = _text(a["quantity"], where)
    if quantity not in UNITS:
        raise DataFileError(f"{where}: quantity must be one of {', '.join(UNITS)}")
    stored = _text(a.get("stored_dtype", "f4"), where)
    if stored not in ("f4", "f8"):
        raise DataFileError(f"{where}: stored dtype must be f4 or f8")
    axis = SpectrumAxis(decode_array(a["wavelength_nm"], where), quantity, _text(a["units"], where),
                        _text(a["raw_units"], where), stored)
    darks = None
    if d.get("darks") is not None:
        k = _mapping(d["darks"], where)
        darks = DarkLibrary(decode_array(k["integration_time_s"], where), decode_array(k["spectra"], where),
                            _text(k.get("units", "counts"), where))
    calibration = {_text(k, where): _from_value(v, where) for k, v in _mapping(d.get("calibration", {}), where).items()}
    return LightDescription(_text(d["identity"], where), axis, darks, calibration,
                            _text_map(d.get("calibration_units", {}), where))


# --- records -> documents ----------------------------------------------------------------
def documents_of(record: Record) -> list[dict[str, Any]]:
    """The documents of one record (a start gives the start and a descriptor per stream)."""
    if isinstance(record, RunStart):
        start = {"kind": "start", "run_id": record.run_id, "procedure": record.procedure, "title": record.title,
                 "parameters": {k: [plain_value(v), u] for k, (v, u) in record.parameters.items()},
                 "main": main_document(record.main), "light": light_document(record.light),
                 "second_channel": light_document(record.second_channel), "geometry": record.geometry,
                 "pixel_area_cm2": number(record.pixel_area_cm2), "config_text": record.config_text,
                 "config_source": record.config_source, "instruments": dict(record.instruments),
                 "software_version": record.software_version, "start_time_s": number(record.start_time_s),
                 "durability_interval_s": number(record.durability_interval_s),
                 "provenance": dict(record.provenance), "sample": dict(record.sample),
                 "plots": [plot_document(p) for p in record.plots], "figure_set": record.figure_set,
                 "streams": [s.name for s in record.streams]}
        return [start, *({"kind": "descriptor", "run_id": record.run_id, **stream_document(s)}
                         for s in record.streams)]
    if isinstance(record, Event):
        document: dict[str, Any] = {"kind": "event", "stream": record.stream, "index": record.index,
                                    "values": {k: number(v) for k, v in record.values.items()}}
        if record.spectrum is not None:
            document["spectrum"] = {"spectral": encode_array(record.spectrum.spectral),
                                    "raw": encode_array(record.spectrum.raw)}
        return [document]
    if isinstance(record, Progress):
        return [{"kind": "progress", "fraction": number(record.fraction), "message": record.message,
                 "values": {k: number(v) for k, v in record.values.items()}}]
    if isinstance(record, Notice):
        return [{"kind": "notice", "time_s": number(record.time_s), "message": record.message, "level": record.level}]
    if isinstance(record, RunStop):
        return [{"kind": "stop", "status": record.status, "reason": record.reason,
                 "end_time_s": number(record.end_time_s), "events": dict(record.events),
                 "main_stream": record.main_stream, "output": record.output,
                 "output_confirmed_off": record.output_confirmed_off}]
    raise TypeError(f"not a record: {type(record).__name__}")


# --- documents -> records ----------------------------------------------------------------
def _kind(document: Any) -> str:
    kind = document.get("kind") if isinstance(document, Mapping) else None
    return kind if kind in DOCUMENT_KINDS else "a"


class RecordDecoder:
    """Documents back into records, in order: a start is complete once every stream it
    names has its descriptor; events need the start (their spectra take its light axis)."""

    def __init__(self) -> None:
        self._start: dict[str, Any] | None = None
        self._descriptors: dict[str, Stream] = {}
        self.start: RunStart | None = None

    def feed(self, document: Any) -> Iterator[Record]:
        """The records this document completes; DataFileError (one line) for anything that is
        not a well-formed document of this run."""
        try:
            yield from self._feed(document)
        except DataFileError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, RecursionError, OverflowError) as exc:
            raise DataFileError(f"malformed {_kind(document)} document ({type(exc).__name__}: {exc})"[:300]) from None

    def _feed(self, document: Any) -> Iterator[Record]:
        d = _mapping(document, "document")
        kind = d.get("kind")
        if kind not in DOCUMENT_KINDS:
            raise DataFileError(f"document kind must be one of {', '.join(DOCUMENT_KINDS)}")
        if kind == "start":
            if self._start is not None:
                raise DataFileError("a second start document")
            self._start = dict(d)
            yield from self._complete()
        elif kind == "descriptor":
            stream = stream_from(d, "descriptor")
            self._descriptors[stream.name] = stream
            yield from self._complete()
        elif self.start is None:
            raise DataFileError(f"a {kind} document before the run's start and descriptors")
        elif kind == "event":
            yield self._event(d)
        elif kind == "progress":
            values = {_text(k, "progress"): from_number(v, "progress") for k, v in
                      _mapping(d.get("values", {}), "progress").items()}
            yield Progress(from_number(d["fraction"], "progress"), _text(d.get("message", ""), "progress"), values)
        elif kind == "notice":
            yield Notice(from_number(d["time_s"], "notice"), _text(d["message"], "notice"),
                         _text(d.get("level", "warning"), "notice"))
        else:
            events = {_text(k, "stop"): int(v) for k, v in _mapping(d["events"], "stop").items()
                      if isinstance(v, int) and not isinstance(v, bool) and v >= 0}
            yield RunStop(_text(d["status"], "stop"), _text(d["reason"], "stop"), from_number(d["end_time_s"], "stop"),
                          events, _text(d.get("main_stream", ""), "stop"), _text(d.get("output", ""), "stop"),
                          _flag(d.get("output_confirmed_off", True), "stop"))

    def _complete(self) -> Iterator[Record]:
        s = self._start
        if s is None or self.start is not None or not all(n in self._descriptors for n in s["streams"]):
            return
        where = "start"
        try:
            parameters = {_text(k, where): (_from_value(v[0], where), _text(v[1], where))
                          for k, v in _mapping(s["parameters"], where).items()}
            self.start = RunStart(
                _text(s["run_id"], where), _text(s["procedure"], where), _text(s["title"], where), parameters,
                tuple(self._descriptors[n] for n in _texts(s["streams"], where)), main_from(s["main"]),
                light_from(s.get("light")), _text(s["geometry"], where), from_number(s["pixel_area_cm2"], where),
                _text(s["config_text"], where), _text(s["config_source"], where), _text_map(s["instruments"], where),
                _text(s["software_version"], where), from_number(s["start_time_s"], where),
                from_number(s.get("durability_interval_s", 0.0), where), _text_map(s.get("provenance", {}), where),
                _text_map(s.get("sample", {}), where), light_from(s.get("second_channel"), "second_channel"),
                tuple(plot_from(p) for p in s.get("plots", [])), _text(s.get("figure_set", ""), where))
        except (KeyError, IndexError, TypeError) as exc:
            raise DataFileError(f"start document: {exc} missing or malformed") from None
        yield self.start

    def _event(self, d: Mapping[str, Any]) -> Event:
        assert self.start is not None
        stream = _text(d["stream"], "event")
        declared = self._descriptors.get(stream)
        if declared is None:
            raise DataFileError(f"event of undeclared stream {stream!r}")
        index = d.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise DataFileError("event: index must be a row number")
        names = set(declared.column_names)
        values = {k: from_number(v, "event") for k, v in _mapping(d.get("values", {}), "event").items() if k in names}
        spectrum = None
        if d.get("spectrum") is not None:
            light = self.start.light
            if light is None or not declared.spectra:
                raise DataFileError(f"event of stream {stream!r} carries a spectrum it does not declare")
            sp = _mapping(d["spectrum"], "event spectrum")
            spectral, raw = decode_array(sp["spectral"], "event spectrum"), decode_array(sp["raw"], "event spectrum")
            if spectral.shape != light.axis.wavelength_nm.shape or raw.shape != spectral.shape:
                raise DataFileError("event spectrum: not on the light instrument's wavelength axis")
            spectrum = SpectralResult(light.axis.wavelength_nm, spectral.astype(float), light.axis.quantity,
                                      raw.astype(float), light.axis.raw_units,
                                      float(values.get("integration_time_s", math.nan)),
                                      dark_index=int(values["dark_index"]) if math.isfinite(
                                          values.get("dark_index", math.nan)) else -1,
                                      instrument=light.identity)
        return Event(stream, index, values, spectrum)
