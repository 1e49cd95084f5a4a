"""Units of a figure of merit from its name (the names carry their units: ``T50_h``,
``trap_density_cm3``), for analyses that give flat mappings of figures."""

from __future__ import annotations

#: name endings and their units, the more specific first
NAME_UNITS = (("_mA_cm2_V", "mA/(cm^2 V)"), ("_mA_cm2", "mA/cm^2"), ("_cd_m2", "cd/m^2"), ("_W_sr_m2", "W/(sr m^2)"),
              ("_cm2_Vs", "cm^2/(V s)"), ("_cm3", "cm^-3"), ("_S_cm", "S/cm"), ("_per_h", "1/h"), ("_h", "h"),
              ("_V", "V"), ("_nm", "nm"), ("_s", "s"), ("_S", "S"), ("_A", "A"), ("delta_uv", "1"),
              ("relative_light", "1"))


def units_from_name(name: str, default: str = "") -> str:
    """The units a figure's name ends with (``default`` when it names none)."""
    return next((units for suffix, units in NAME_UNITS if name.endswith(suffix)), default)
