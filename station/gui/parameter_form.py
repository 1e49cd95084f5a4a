"""A parameter panel generated from a procedure's pymeasure parameters.

One row per parameter: its name, an input (text for numbers and text, a list for a
choice, a box for a flag), its units, and its limits in the tooltip. Every change runs
the command line's own check (:func:`procedures.parameters.build_procedure`, through
the queue's :meth:`~station.gui.run_queue.RunQueue.check`) and shows its one-line
verdict; the field it names turns red. No separate GUI validation exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, ListParameter, Parameter
from PyQt6 import QtCore, QtWidgets

from procedures import procedure_class
from procedures.parameters import SAFETY_CAPPED, option
from station.core.errors import ConfigError

ERROR_STYLE = "background: #ffd6d6;"


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"
    return str(value)


class ParameterForm(QtWidgets.QWidget):
    """Inputs for the parameters of one procedure; :meth:`values` gives them typed."""

    changed = QtCore.pyqtSignal()

    def __init__(self, check: Callable[[str, dict[str, Any]], None], config: Any,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._check = check
        self._config = config
        self.procedure = ""
        self.inputs: dict[str, QtWidgets.QWidget] = {}
        self.parameters: dict[str, Parameter] = {}
        self._layout = QtWidgets.QFormLayout(self)
        self._layout.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._layout.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapAllRows)  # each name above its field
        self.verdict = QtWidgets.QLabel()
        self.verdict.setWordWrap(True)
        self.error = ""

    def show_procedure(self, name: str, values: dict[str, Any] | None = None) -> None:
        """Rebuild the form for procedure ``name`` (defaults, or ``values``)."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self.procedure = name
        self.parameters = procedure_class(name).parameter_definitions()
        self.inputs = {}
        for key, parameter in self.parameters.items():
            value = (values or {}).get(key, self._default(key, parameter))
            widget = self._input(parameter, value)
            units = getattr(parameter, "units", None) or ""
            row = QtWidgets.QWidget()
            box = QtWidgets.QHBoxLayout(row)
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(widget, 1)
            if units:
                box.addWidget(QtWidgets.QLabel(units))
            label = QtWidgets.QLabel(parameter.name)
            label.setWordWrap(True)
            label.setToolTip(f"{option(key)}{self._limits(parameter)}")
            widget.setToolTip(label.toolTip())
            self._layout.addRow(label, row)
            self.inputs[key] = widget
        self.validate()

    def _default(self, key: str, parameter: Parameter) -> Any:
        if key in SAFETY_CAPPED:  # the command line's default: capped at the safety limit
            return min(parameter.default, getattr(self._config, SAFETY_CAPPED[key]))
        return parameter.default

    @staticmethod
    def _limits(parameter: Parameter) -> str:
        if hasattr(parameter, "minimum"):
            units = getattr(parameter, "units", None) or ""
            return f": {_text(parameter.minimum)} to {_text(parameter.maximum)} {units}".rstrip()
        if isinstance(parameter, ListParameter):
            return f": one of {', '.join(map(str, parameter.choices))}"
        return ""

    def _input(self, parameter: Parameter, value: Any) -> QtWidgets.QWidget:
        if isinstance(parameter, BooleanParameter):
            widget = QtWidgets.QCheckBox()
            widget.setChecked(bool(value))
            widget.toggled.connect(self.validate)
        elif isinstance(parameter, ListParameter):
            widget = QtWidgets.QComboBox()
            widget.addItems([str(c) for c in parameter.choices])
            widget.setCurrentText(str(value))
            widget.currentTextChanged.connect(self.validate)
        else:
            widget = QtWidgets.QLineEdit(_text(value))
            widget.textChanged.connect(self.validate)
        return widget

    def values(self) -> dict[str, Any]:
        """The values typed, converted to the parameter's type (ConfigError if one is not a number)."""
        values: dict[str, Any] = {}
        for key, widget in self.inputs.items():
            parameter = self.parameters[key]
            if isinstance(widget, QtWidgets.QCheckBox):
                values[key] = widget.isChecked()
            elif isinstance(widget, QtWidgets.QComboBox):
                values[key] = widget.currentText()
            else:
                text = widget.text().strip()
                try:
                    if isinstance(parameter, IntegerParameter):
                        values[key] = int(text)
                    elif isinstance(parameter, FloatParameter):
                        values[key] = float(text)
                    else:
                        values[key] = text
                except ValueError:
                    raise ConfigError(f"bad parameter {option(key)} {text!r}: not a number") from None
        return values

    def set_values(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            widget = self.inputs.get(key)
            if isinstance(widget, QtWidgets.QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QtWidgets.QComboBox):
                widget.setCurrentText(str(value))
            elif isinstance(widget, QtWidgets.QLineEdit):
                widget.setText(_text(value))

    def validate(self) -> str:
        """Run the station's check on the values as typed; returns the error ("" if none)."""
        for widget in self.inputs.values():
            widget.setStyleSheet("")
        try:
            self._check(self.procedure, self.values())
            self.error = ""
        except ConfigError as exc:
            self.error = str(exc)
            for key, widget in self.inputs.items():
                if option(key) + " " in self.error + " " or f"parameter {key}" in self.error:
                    widget.setStyleSheet(ERROR_STYLE)
        self.verdict.setText(f"<span style='color:#b00020'>{self.error}</span>" if self.error
                             else "<span style='color:#2e7d32'>parameters accepted</span>")
        self.changed.emit()
        return self.error
