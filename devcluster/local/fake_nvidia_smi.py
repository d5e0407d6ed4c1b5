#!/usr/bin/env python3
"""Fake nvidia-smi for GPU-less test hosts: prints the GPUs in /etc/hydra-ops/fake-gpus.json in nvidia-smi's formats.

Supports the default table, `-L`, and `--query-gpu=FIELDS --format=csv[,noheader][,nounits]` (plus -i INDEX).
The JSON path can be overridden with the HYDRA_FAKE_GPUS environment variable (unit tests use that).

Tests set a GPU's readings by editing the JSON file on the host; every call re-reads it. Per GPU entry:
"memory_used_mib" (default 1, so free = total - 1), "temperature_c" (default 45), "utilization_pct" (default 0),
"power_w" (default 30). A reading set to null prints "[N/A]", and a string (e.g. "[Not Supported]") is printed
as is, the way real nvidia-smi reports readings a GPU cannot give. Example, GPU 1 at 85 °C:

    python3 -c 'import json; p = "/etc/hydra-ops/fake-gpus.json"; d = json.load(open(p));
    d["gpus"][1]["temperature_c"] = 85; json.dump(d, open(p, "w"))'
"""

import json
import os
import sys
from datetime import datetime

SPEC = "/etc/hydra-ops/fake-gpus.json"
DRIVER, CUDA = "575.57.08", "12.9"
UNITS = {"memory.total": "MiB", "memory.free": "MiB", "memory.used": "MiB", "utilization.gpu": "%",
         "temperature.gpu": "", "power.draw": "W"}
NA = "[N/A]"


def load() -> list:
    with open(os.environ.get("HYDRA_FAKE_GPUS") or SPEC) as fh:
        return json.load(fh)["gpus"]


def reading(gpu: dict, key: str, default: float) -> object:
    """A reading from the JSON: its value, the default when absent, "[N/A]" when null, a string as is."""
    value = gpu.get(key, default)
    return NA if value is None else value


def power(gpu: dict) -> str:
    value = reading(gpu, "power_w", 30)
    return f"{value:.2f}" if isinstance(value, int | float) else str(value)


def field(gpu: dict, name: str, units: bool) -> str:
    total, used = gpu["memory_mib"], gpu.get("memory_used_mib", 1)
    values = {
        "index": gpu["index"], "uuid": gpu["uuid"], "name": gpu["name"], "pci.bus_id": gpu["bus_id"],
        "memory.total": total, "memory.used": used, "memory.free": total - used, "driver_version": DRIVER,
        "utilization.gpu": reading(gpu, "utilization_pct", 0), "temperature.gpu": reading(gpu, "temperature_c", 45),
        "power.draw": power(gpu), "count": None,
    }
    if name not in values:
        sys.stderr.write(f'Field "{name}" is not a valid field to query.\n')
        sys.exit(2)
    value = str(values[name])
    unit = UNITS.get(name, "")
    return f"{value} {unit}".strip() if units and unit and not value.startswith("[") else value


def query(gpus: list, fields: list, fmt: str) -> None:
    opts = fmt.split(",")
    if "csv" not in opts:
        sys.stderr.write("Only csv format is supported by this fake.\n")
        sys.exit(2)
    units = "nounits" not in opts
    if "noheader" not in opts:
        print(", ".join(f + (f" [{UNITS[f]}]" if units and UNITS.get(f) else "") for f in fields))
    for gpu in gpus:
        print(", ".join(field(gpu, f, units) for f in fields))


def table(gpus: list) -> None:
    print(datetime.now().strftime("%a %b %d %H:%M:%S %Y"))
    print("+-----------------------------------------------------------------------------------------+")
    print(f"| NVIDIA-SMI {DRIVER}              Driver Version: {DRIVER}      CUDA Version: {CUDA}     |")
    print("|-----------------------------------------+------------------------+----------------------+")
    print("| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |")
    print("| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |")
    print("|=========================================+========================+======================|")
    for gpu in gpus:
        used, total = gpu.get("memory_used_mib", 1), gpu["memory_mib"]
        temp, util, watts = (reading(gpu, k, d) for k, d in
                             (("temperature_c", 45), ("utilization_pct", 0), ("power_w", 30)))
        temp = f"{temp}C" if isinstance(temp, int | float) else "N/A"
        util = f"{util}%" if isinstance(util, int | float) else "N/A"
        watts = f"{round(watts)}W" if isinstance(watts, int | float) else "N/A"
        print(f"| {gpu['index']:>3}  {gpu['name'][:26]:<26}     Off | {gpu['bus_id']:<16} Off |"
              f"                  N/A |")
        print(f"|  0%  {temp:>4}    P8           {watts:>5} /  450W | {used:>6}MiB / {total:>6}MiB |"
              f"    {util:>4}      Default |")
        print("+-----------------------------------------+------------------------+----------------------+")
    print()
    print("+-----------------------------------------------------------------------------------------+")
    print("| Processes:                                                                              |")
    print("|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |")
    print("|=========================================================================================|")
    print("|  No running processes found                                                             |")
    print("+-----------------------------------------------------------------------------------------+")


def main(argv: list) -> int:
    gpus = load()
    if not gpus:
        print("No devices were found")
        return 6
    fields, fmt, only = None, "csv", None
    for i, arg in enumerate(argv):
        if arg.startswith("--query-gpu="):
            fields = [f.strip() for f in arg.split("=", 1)[1].split(",")]
        elif arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
        elif arg in ("-i", "--id") and i + 1 < len(argv):
            only = argv[i + 1]
        elif arg.startswith("--id="):
            only = arg.split("=", 1)[1]
    if only is not None:
        gpus = [g for g in gpus if only in (str(g["index"]), g["uuid"], g["bus_id"])]
    if "-L" in argv or "--list-gpus" in argv:
        for gpu in gpus:
            print(f"GPU {gpu['index']}: {gpu['name']} (UUID: {gpu['uuid']})")
        return 0
    if fields:
        query(gpus, fields, fmt)
        return 0
    table(gpus)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
