"""Reference devices of MEASUREMENTS.md section 5 as model parameters.

The electrical and efficiency parameters were fitted (least squares on the model) so
that each preset's J-V-L lands on the published figures quoted in ``published``; the
test suite checks that they still do. Figures marked "assumed" are not in the table of
section 5 and were chosen to be plausible for the device type.
"""

from __future__ import annotations

from .led_model import (
    AgeingParameters,
    EfficiencyParameters,
    ElectricalParameters,
    LEDParameters,
    SpectrumParameters,
)

DEEP_RED_CSPBI3_FRET = LEDParameters(
    name="deep-red-cspbi3-fret",
    description="deep-red gamma-CsPbI3 NC 'FRET' LED, ITO/PEDOT:PSS/poly-TPD/NCs/TPBi/LiF/Al",
    electrical=ElectricalParameters(
        saturation_current_density_A_cm2=3.9237e-21, ideality=3.0,
        series_resistance_ohm_cm2=2.0396, shunt_resistance_ohm_cm2=2e6),
    efficiency=EfficiencyParameters(
        eqe_max=0.252988, charge_balance_current_density_mA_cm2=0.03, charge_balance_exponent=1.5,
        rolloff_current_density_mA_cm2=1621.0, rolloff_exponent=2.0),
    spectrum=SpectrumParameters(peak_nm=685.0, fwhm_nm=31.0, peak_shift_nm_per_decade=0.3,
                                fwhm_change_nm_per_decade=0.5),
    # stable (assumed T50 = 2000 h at 10 mA/cm^2); brightens over its first ~200 on/off cycles
    ageing=AgeingParameters(reference_current_density_mA_cm2=10.0, reference_T_percent=50.0,
                            reference_lifetime_h=2000.0, cycling_current_gain_max=4.0,
                            cycling_gain_cycles=60.0),
)

RED_CSPBBRI_QD = LEDParameters(
    name="red-cspbbri-qd",
    description="red CsPbBr_xI_(3-x) QD LED, ITO/NiOx:SAM/poly-TPD/QDs/CNT2T/LiF/Al",
    electrical=ElectricalParameters(
        saturation_current_density_A_cm2=3.45368e-13, ideality=4.5,
        series_resistance_ohm_cm2=14.8327, shunt_resistance_ohm_cm2=2e6),
    efficiency=EfficiencyParameters(
        eqe_max=0.220391, charge_balance_current_density_mA_cm2=0.01, charge_balance_exponent=1.5,
        rolloff_current_density_mA_cm2=71.138, rolloff_exponent=2.0),
    spectrum=SpectrumParameters(peak_nm=638.0, fwhm_nm=30.0),  # EL stable 1-90 mA/cm^2
    # T90 = 500 min at 5 mA/cm^2 (L0 = 1015 cd/m^2), n = 1.95
    ageing=AgeingParameters(reference_current_density_mA_cm2=5.0, reference_T_percent=90.0,
                            reference_lifetime_h=500.0 / 60.0, stretch_beta=0.8,
                            acceleration_exponent=1.95, voltage_rise_V_at_T50=0.3),
)

NIR_FAPBI3_QD = LEDParameters(
    name="nir-fapbi3-qd",
    description="FAPbI3 QD near-infrared LED, ITO/PEDOT:PSS/poly-TPD/QDs/PO-T2T/Liq/Al",
    electrical=ElectricalParameters(
        saturation_current_density_A_cm2=2.95161e-14, ideality=3.0,
        series_resistance_ohm_cm2=2.98737, shunt_resistance_ohm_cm2=2e6),
    efficiency=EfficiencyParameters(
        eqe_max=0.120210, charge_balance_current_density_mA_cm2=0.02, charge_balance_exponent=1.5,
        rolloff_current_density_mA_cm2=98.589, rolloff_exponent=2.0),
    spectrum=SpectrumParameters(peak_nm=778.0, fwhm_nm=42.0, peak_shift_nm_per_decade=1.0,
                                fwhm_change_nm_per_decade=1.5),
    ageing=AgeingParameters(reference_current_density_mA_cm2=10.0, reference_T_percent=50.0,
                            reference_lifetime_h=20.0),
)

PRESETS: dict[str, LEDParameters] = {p.name: p for p in (DEEP_RED_CSPBI3_FRET, RED_CSPBBRI_QD, NIR_FAPBI3_QD)}

#: Published figures each preset is fitted to (turn-on at 1 cd/m^2, or at a radiance
#: threshold for the NIR device). "assumed" marks figures not in MEASUREMENTS.md.
PUBLISHED: dict[str, dict[str, float]] = {
    "deep-red-cspbi3-fret": {"turn_on_V": 2.9, "max_luminance_cd_m2": 13626.0,
                             "voltage_at_max_luminance_V": 7.0, "peak_eqe": 0.253},
    "red-cspbbri-qd": {"turn_on_V": 2.0, "voltage_at_1000_cd_m2_V": 2.8, "max_luminance_cd_m2": 7000.0,
                       "peak_eqe": 0.22, "luminance_at_5_mA_cm2_cd_m2": 1015.0, "T90_h_at_5_mA_cm2": 500 / 60},
    "nir-fapbi3-qd": {"turn_on_V_at_0.01_W_sr_m2": 1.6, "max_radiance_W_sr_m2": 30.0,  # assumed
                      "peak_eqe": 0.12},  # assumed
}

DEFAULT_PRESET = DEEP_RED_CSPBI3_FRET.name


def preset(name: str) -> LEDParameters:
    """Look up a preset by name (KeyError lists the known names)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown device preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None
