"""Times pycocotools' COCOeval (bbox) on a ground-truth and a results file.

Usage: python pycocotools_time.py GT.json DT.json  -> one JSON line on stdout:
{"stats": [...12], "loadGt_s", "loadRes_s", "eval_s" (evaluate+accumulate+summarize),
 "loadRes_cpu_s", "eval_cpu_s" (process CPU time of the same stages)}
"""
import contextlib
import io
import json
import sys
import time

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def main(gt_path, dt_path):
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        t0 = time.perf_counter()
        gt = COCO(gt_path)
        t1, c1 = time.perf_counter(), time.process_time()
        dt = gt.loadRes(dt_path)
        t2, c2 = time.perf_counter(), time.process_time()
        ev = COCOeval(gt, dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        t3, c3 = time.perf_counter(), time.process_time()
    print(json.dumps({'stats': [float(v) for v in ev.stats], 'loadGt_s': t1 - t0,
                      'loadRes_s': t2 - t1, 'eval_s': t3 - t2,
                      'loadRes_cpu_s': c2 - c1, 'eval_cpu_s': c3 - c2}))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
