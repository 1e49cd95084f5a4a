"""What a validation library would cost the station's start-up (issue 26, item 6: "measure
before you choose"): in a fresh interpreter, the time to import the library, declare a
configuration-sized model (a table of a dozen typed fields with defaults and bounds) and
validate one document, for each library installed. Medians of --repeat fresh processes.

Run: python benchmarks/bench_validation_libraries.py [--repeat 7]

The station's budget: ``ledstation --help`` under 0.2 s and the smallest run under 0.8 s
(today about 0.06 s and 0.65 s, ``benchmarks/bench_startup.py``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CASES = {
    "pydantic": """
import pydantic
class SMU(pydantic.BaseModel):
    address: str = "sim"
    nplc: float = pydantic.Field(1.0, ge=0.01, le=10)
    visa_library: str = ""
class Safety(pydantic.BaseModel):
    max_voltage_V: float = pydantic.Field(10.0, gt=0, le=210)
    max_current_A: float = pydantic.Field(0.1, gt=0, le=1.05)
    output_off_timeout_s: float = pydantic.Field(10.0, gt=0)
class Config(pydantic.BaseModel):
    smu: SMU = SMU()
    safety: Safety = Safety()
    pixels: list[str] = []
Config.model_validate({"smu": {"nplc": 2}, "safety": {"max_voltage_V": 8}, "pixels": ["A", "B"]})
""",
    "msgspec": """
import msgspec
from typing import Annotated
class SMU(msgspec.Struct, forbid_unknown_fields=True):
    address: str = "sim"
    nplc: Annotated[float, msgspec.Meta(ge=0.01, le=10)] = 1.0
    visa_library: str = ""
class Safety(msgspec.Struct, forbid_unknown_fields=True):
    max_voltage_V: Annotated[float, msgspec.Meta(gt=0, le=210)] = 10.0
    max_current_A: Annotated[float, msgspec.Meta(gt=0, le=1.05)] = 0.1
    output_off_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
class Config(msgspec.Struct, forbid_unknown_fields=True):
    smu: SMU = msgspec.field(default_factory=SMU)
    safety: Safety = msgspec.field(default_factory=Safety)
    pixels: list[str] = []
msgspec.convert({"smu": {"nplc": 2}, "safety": {"max_voltage_V": 8}, "pixels": ["A", "B"]}, Config)
""",
    "none (the station's own checks)": """
import math
d = {"smu": {"nplc": 2}, "safety": {"max_voltage_V": 8}, "pixels": ["A", "B"]}
assert 0.01 <= d["smu"]["nplc"] <= 10 and 0 < d["safety"]["max_voltage_V"] <= 210
""",
}
TIMED = "import time\nt = time.perf_counter()\n{body}\nprint(time.perf_counter() - t)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print("| library | import + declare + validate, ms (median) |")
    print("| --- | --- |")
    for name, body in CASES.items():
        times = []
        for _ in range(args.repeat):
            done = subprocess.run([sys.executable, "-c", TIMED.format(body=body)], capture_output=True, text=True)
            if done.returncode:
                times = []
                break
            times.append(1e3 * float(done.stdout))
        print(f"| {name} | {statistics.median(times):.1f} |" if times else f"| {name} | not installed |", flush=True)


if __name__ == "__main__":
    main()
