"""Virtual time ages the simulated device as the model says."""

import math

import pytest

from sim_instruments.presets import PRESETS, RED_CSPBBRI_QD
from sim_instruments.simulated_led import Drive, SimulatedLED
from station.core.clock import VirtualClock

AREA = RED_CSPBBRI_QD.pixel_area_cm2
I_5_MA_CM2 = 5e-3 * AREA


def red_led():
    clock = VirtualClock(start_epoch_s=0.0)
    return SimulatedLED(RED_CSPBBRI_QD, clock), clock


def test_a_500_hour_sleep_ages_the_device_by_500_hours_at_once():
    led, clock = red_led()
    led.set_drive(Drive("current", I_5_MA_CM2, 10.0))
    clock.sleep(500 * 3600)
    assert clock.elapsed_s == 500 * 3600
    tau, beta = RED_CSPBBRI_QD.ageing.reference_tau_s, RED_CSPBBRI_QD.ageing.stretch_beta
    assert led.ageing_fraction() == pytest.approx(math.exp(-((500 * 3600 / tau) ** beta)), rel=1e-9)


def test_constant_current_t90_is_the_published_500_minutes():
    led, clock = red_led()
    led.set_drive(Drive("current", I_5_MA_CM2, 10.0))
    l0 = led.solve()[0].luminance_cd_m2
    assert l0 == pytest.approx(1015, rel=0.05)
    clock.sleep(500 * 60)
    assert led.solve()[0].luminance_cd_m2 / l0 == pytest.approx(0.90, abs=1e-3)


def test_luminance_follows_the_stretched_exponential():
    led, clock = red_led()
    led.set_drive(Drive("current", I_5_MA_CM2, 10.0))
    l0 = led.solve()[0].luminance_cd_m2
    beta = RED_CSPBBRI_QD.ageing.stretch_beta
    tau = RED_CSPBBRI_QD.ageing.reference_tau_s
    for hours in (1, 10, 50, 200):
        clock.sleep(hours * 3600 - clock.elapsed_s)
        expected = math.exp(-((hours * 3600 / tau) ** beta))
        assert led.solve()[0].luminance_cd_m2 / l0 == pytest.approx(expected, rel=2e-3)


def time_to_fraction(led, clock, fraction, step_s=60.0):
    l0 = led.solve()[0].luminance_cd_m2
    while led.solve()[0].luminance_cd_m2 > fraction * l0:
        clock.sleep(step_s)
    return clock.elapsed_s, l0


def test_lifetime_scales_with_initial_luminance_to_the_power_n():
    led_a, clock_a = red_led()
    led_a.set_drive(Drive("current", I_5_MA_CM2, 10.0))
    t_a, l0_a = time_to_fraction(led_a, clock_a, 0.9, step_s=60)
    led_b, clock_b = red_led()
    led_b.set_drive(Drive("current", 3 * I_5_MA_CM2, 10.0))
    t_b, l0_b = time_to_fraction(led_b, clock_b, 0.9, step_s=10)
    n = math.log(t_a / t_b) / math.log(l0_b / l0_a)
    assert n == pytest.approx(1.95, abs=0.03)


def test_voltage_rises_at_constant_current():
    led, clock = red_led()
    led.set_drive(Drive("current", I_5_MA_CM2, 10.0))
    v0 = led.solve()[0].voltage_V
    time_to_fraction(led, clock, 0.5, step_s=600)
    rise = led.solve()[0].voltage_V - v0
    assert rise == pytest.approx(RED_CSPBBRI_QD.ageing.voltage_rise_V_at_T50, rel=0.05)


def test_ageing_under_voltage_drive_slows_as_current_falls():
    led_v, clock_v = red_led()
    led_i, clock_i = red_led()
    start_v = led_v.model.voltage_at_current_V(I_5_MA_CM2)
    led_v.set_drive(Drive("voltage", start_v, 1.0))
    led_i.set_drive(Drive("current", I_5_MA_CM2, 10.0))
    for clock in (clock_v, clock_i):
        clock.sleep(50 * 3600)
    assert led_v.solve()[0].current_A < 0.9 * I_5_MA_CM2  # the junction voltage rose
    assert led_v.ageing_fraction() > led_i.ageing_fraction()


def test_deep_red_device_brightens_over_200_on_off_cycles_then_holds():
    clock = VirtualClock()
    led = SimulatedLED(PRESETS["deep-red-cspbi3-fret"], clock)
    drive = Drive("voltage", 3.34, 0.1)  # about 250 cd/m^2 when fresh
    per_cycle = []
    for _ in range(650):
        led.set_drive(drive)
        clock.sleep(5.0)
        per_cycle.append(led.solve()[0].luminance_cd_m2)
        led.set_drive(None)
        clock.sleep(5.0)
    assert led.on_off_cycles == 650
    assert per_cycle[199] / per_cycle[0] > 2.0
    assert per_cycle[649] / per_cycle[199] == pytest.approx(1.0, abs=0.06)


def test_open_and_short_circuit_failures_after_their_set_time():
    from dataclasses import replace

    params = replace(RED_CSPBBRI_QD, ageing=replace(RED_CSPBBRI_QD.ageing, open_circuit_after_h=2.0))
    clock = VirtualClock()
    led = SimulatedLED(params, clock)
    led.set_drive(Drive("voltage", 3.0, 0.1))
    assert led.solve()[0].current_A > 1e-4
    clock.sleep(2.5 * 3600)
    point, _ = led.solve()
    assert point.current_A == 0.0 and point.luminance_cd_m2 == 0.0

    params = replace(RED_CSPBBRI_QD, ageing=replace(RED_CSPBBRI_QD.ageing, short_circuit_after_h=1.0))
    clock = VirtualClock()
    led = SimulatedLED(params, clock)
    led.set_drive(Drive("voltage", 0.1, 0.1))
    clock.sleep(3600.0)
    point, _ = led.solve()
    assert point.current_A == pytest.approx(0.1 / params.ageing.short_circuit_resistance_ohm)
    assert point.luminance_cd_m2 == 0.0
