"""Reads a run's logs with the real tools: TensorBoard's event accumulator and h5py.

    check_logs.py LOG_DIR TRAIN_OUTPUT N_STEPS

Checks that every per-step total loss printed by fnrun ("Loss x.xxx") is the TensorBoard
scalar total_loss_raw at that step, that the other scalars, histograms and images are there,
and that stat.h5 has the reference's keys and shapes with the same losses."""
import re
import sys

import h5py
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    log_dir, out_path, n_steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    printed = [float(m.group(1)) for m in re.finditer(r"^Epoch: .*\tLoss ([0-9.]+)\t", open(out_path).read(), re.M)]
    assert len(printed) == n_steps, f"{len(printed)} step lines, expected {n_steps}"
    ea = EventAccumulator(log_dir, size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    ea.Reload()
    tags = ea.Tags()
    for t in ["total_loss_raw", "total_loss", "cross_entropy_raw", "cross_entropy", "learning_rate",
              "time/total", "time/save_variables"]:
        assert t in tags["scalars"], f"scalar {t} missing: {tags['scalars']}"
    events = ea.Scalars("total_loss_raw")
    assert [e.step for e in events] == list(range(1, n_steps + 1)), [e.step for e in events]
    for e, p in zip(events, printed):
        assert abs(e.value - p) <= 0.0005 + 1e-6, f"step {e.step}: TensorBoard {e.value}, printed {p}"
    assert len(tags["histograms"]) > 10 and any(t.endswith("/gradients") for t in tags["histograms"]), tags["histograms"][:5]
    assert len(tags["images"]) >= 1, tags["images"]
    print(f"TensorBoard: {len(events)} total_loss_raw scalars at steps 1..{n_steps} equal the printed losses; "
          f"{len(tags['scalars'])} scalar tags, {len(tags['histograms'])} histogram tags, {len(tags['images'])} images")
    with h5py.File(f"{log_dir}/stat.h5", "r") as f:
        keys = ["loss", "center_loss", "reg_loss", "xent_loss", "prelogits_norm", "accuracy", "val_loss",
                "val_xent_loss", "val_accuracy", "lfw_accuracy", "lfw_valrate", "learning_rate", "time_train",
                "time_validate", "time_evaluate", "prelogits_hist"]
        missing = [k for k in keys if k not in f]
        assert not missing, f"stat.h5 lacks {missing}"
        loss = np.array(f["loss"])
        assert np.allclose(loss[:n_steps], printed, atol=0.0005 + 1e-6), (loss[:n_steps], printed)
        assert f["prelogits_hist"].shape[1] == 1000 and f["prelogits_hist"][0].sum() > 0
        print(f"stat.h5: {len(keys)} keys, loss[:{n_steps}] equals the printed losses, "
              f"prelogits_hist {f['prelogits_hist'].shape}")


if __name__ == "__main__":
    main()
