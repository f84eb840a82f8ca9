"""Sweep: count every torchvision classification model (weights=None, 224x224, on meta),
a few timm models and, when transformers is installed, BERT and GPT-2 from small configs;
print each aten op left unsupported, with the models that ran it (nothing, when every op
has a rule). Run with an environment that has torchvision/timm, netcost importable:

    PYTHONPATH=. /work/refenv/bin/python scripts/sweep_unsupported.py [--device cpu] [--only NAME...]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import torch

from netcost.counted.torchcount import count_model

TIMM = (
    "resnet50d",
    "mobilevit_s",
    "efficientnet_b0",
    "convnext_tiny",
    "deit_tiny_patch16_224",
    "swin_tiny_patch4_window7_224",
)


def _torchvision():
    import torchvision

    for name in torchvision.models.list_models(module=torchvision.models):
        size = 299 if name == "inception_v3" else 224
        yield f"torchvision.{name}", lambda n=name: torchvision.models.get_model(n, weights=None), (3, size, size), {}


def _timm():
    try:
        import timm
    except ImportError:
        return
    for name in TIMM:
        yield f"timm.{name}", lambda n=name: timm.create_model(n, pretrained=False), (3, 224, 224), {}


def _transformers():
    try:
        import transformers as tf
    except ImportError:
        print("transformers is not installed: BERT and GPT-2 left out", file=sys.stderr)
        return
    small = {"num_hidden_layers": 2, "hidden_size": 128, "num_attention_heads": 4, "intermediate_size": 256}
    yield "hf.bert", lambda: tf.BertModel(tf.BertConfig(**small)), (128,), {}
    yield "hf.gpt2", lambda: tf.GPT2Model(tf.GPT2Config(n_layer=2, n_embd=128, n_head=4)), (128,), {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="meta")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--mode", default="eval", choices=("eval", "train"))
    args = parser.parse_args()
    unsupported: dict[str, set[str]] = defaultdict(set)
    failed = {}
    for label, build, shape, _ in (*_torchvision(), *_timm(), *_transformers()):
        if args.only and not any(o in label for o in args.only):
            continue
        try:
            try:
                with torch.device(args.device):
                    model = build()
            except NotImplementedError:  # its initialisation needs real storage (regnet)
                model = build().to(args.device)
            report = count_model(model, shape, mode=args.mode)
        except Exception as exc:  # a model that does not build or run here: said, not hidden
            failed[label] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            continue
        for op in report.meta["unsupported_ops"]:
            unsupported[op].add(label)
        print(f"{label}: {report.totals['macs']:,} MACs{' (partial)' if report.meta['partial'] else ''}", flush=True)
    print("\nunsupported aten ops:" + ("" if unsupported else " none"))
    for op, models in sorted(unsupported.items()):
        print(f"  {op}: {', '.join(sorted(models))}")
    for label, why in failed.items():
        print(f"not counted: {label}: {why}")
    return 1 if unsupported else 0


if __name__ == "__main__":
    sys.exit(main())
