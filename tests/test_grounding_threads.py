"""Grounding from several threads at once gives the same answers as one thread.

Grounders are shared (one per kind, per process), so nothing a call computes may be stored on
them: ECP's stage 1 returns its zoom (``StageOne``) instead of leaving it on the grounder.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from guiagent import Frame
from guiagent.grounding import locate


def _scene(seed: int) -> tuple[Frame, list[np.ndarray]]:
    """A 4K frame with a small and a large distinct picture; their templates."""
    rng = np.random.default_rng(seed)
    image = np.full((2160, 3840, 3), 230, np.uint8)
    small = rng.integers(0, 255, (14, 14, 3), dtype=np.uint8)  # stage 1 at full resolution
    large = cv2.resize(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8), (240, 240),
                       interpolation=cv2.INTER_NEAREST)  # stage 1 at a quarter resolution
    x, y = 400 + 100 * seed, 300 + 50 * seed
    image[y : y + 14, x : x + 14] = small
    image[1200 : 1440, 2000 + 60 * seed : 2240 + 60 * seed] = large
    return Frame(image), [small, large]


def _answer(frame: Frame, template: np.ndarray) -> tuple[tuple[int, int], tuple[str, ...]]:
    match = locate(frame, template)
    return (round(match.point.x), round(match.point.y)), tuple(s.note for s in match.stages)


def test_concurrent_template_grounding_matches_sequential() -> None:
    jobs = [(frame, template) for seed in range(3) for frame, templates in [_scene(seed)]
            for template in templates]
    expected = [_answer(frame, template) for frame, template in jobs]
    zooms = {notes[0] for _, notes in expected}
    assert len(zooms) >= 2, f"the jobs should need different stage-1 zooms, got {zooms}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda job: _answer(*job), jobs * 2))
            assert got == expected * 2


def test_grounding_leaves_no_per_call_state_on_the_shared_grounder() -> None:
    from guiagent.grounding import get_grounder

    grounder = get_grounder("template")
    before = dict(vars(grounder))
    frame, templates = _scene(0)
    for template in templates:
        locate(frame, template)
    assert vars(grounder) == before
