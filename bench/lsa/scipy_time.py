"""Times scipy.optimize.linear_sum_assignment on the matrices bench/lsa/run.ts wrote.

Usage: python scipy_time.py <manifest.json>
The manifest lists {name, rows, cols, repeat, file} with each matrix stored as raw float64
(row-major, little endian). Prints one JSON object: {scipy, numpy, results: {name: {...}}}.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy.optimize import linear_sum_assignment

manifest = json.load(open(sys.argv[1]))
results = {}
for case in manifest["cases"]:
    cost = np.fromfile(case["file"], dtype="<f8").reshape(case["rows"], case["cols"])
    r, c = linear_sum_assignment(cost)  # warm-up
    times = []
    for _ in range(case["repeat"]):
        t0 = time.perf_counter()
        r, c = linear_sum_assignment(cost)
        times.append(time.perf_counter() - t0)
    results[case["name"]] = {
        "meanMs": 1e3 * sum(times) / len(times),
        "minMs": 1e3 * min(times),
        "totalCost": float(cost[r, c].sum()),
        "colIndices": c.tolist() if len(c) <= 4000 else None,
    }
print(json.dumps({"scipy": scipy.__version__, "numpy": np.__version__, "results": results}))
