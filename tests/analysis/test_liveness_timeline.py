"""The liveness timeline (netcost.analysis.memory.live_bytes): bytes alive per step, by hand."""

from netcost.analysis.memory import activation_memory
from netcost.api import load_graph


def test_resnet18_first_steps_by_hand():
    memory = activation_memory(load_graph("resnet18"), 4)  # fp32, batch 1
    image, stem, pooled = 3 * 224 * 224 * 4, 64 * 112 * 112 * 4, 64 * 56 * 56 * 4
    assert memory.live[:4] == (
        image + stem,  # conv1 reads the image, writes its output
        stem + stem,  # bn1: conv1's output (its last reader) and bn1's; the image is freed
        stem + stem,  # relu: bn1's output and relu's
        stem + pooled,  # maxpool: relu's output and the pooled map
    )
    assert max(memory.live) == memory.peak == 6_422_528 and memory.peak_at == "bn1"


def test_a_residual_keeps_its_skip_alive(spec_file):
    graph = load_graph(
        spec_file(
            """
            input: [2, 4, 4]
            layers:
              - parallel:
                  merge: add
                  branches:
                    - - conv: {out: 2, k: 1}
                      - conv: {out: 2, k: 1}
                    - []
            """
        )
    )
    memory = activation_memory(graph, 1)
    x = 2 * 4 * 4  # every tensor here: 2x4x4, one byte an element
    # conv1 (x, its output), conv2 (x held for the add, conv1's output, conv2's), add (x, conv2's, the sum)
    assert memory.live == (2 * x, 3 * x, 3 * x)
    assert [n.name for n in graph.nodes] == ["conv1", "conv2", "add1"]
