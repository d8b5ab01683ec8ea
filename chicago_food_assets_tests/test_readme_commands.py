"""The README's blocks that work on what the demo built (materializing weeks, the jobs, the lists, the docs, the
status), as pasted, in order, on a copy of the demo's state folder: a file of its own, so that a second worker runs
them while test_first_contact.py asks the servers."""

from pathlib import Path

import pytest

from chicago_food_assets_tests.helpers import Demo, copy_demo, user_environment
from chicago_food_assets_tests.test_first_contact import on_the_demos_state, readme_blocks, run_block


@pytest.mark.timeout(900)
def test_the_readme_commands_on_the_demos_state_work_as_pasted(demo: Demo, state: Path):
    blocks = [block for block in readme_blocks() if on_the_demos_state(block)]
    assert len(blocks) >= 6, "status, raw weeks, docs, the weekly job, training, lists"
    copy_demo(demo, state)
    env = user_environment(state)
    for block in blocks:
        run_block(block, state, env)
    card = (state.parent / "docs" / "model.md").read_text()
    assert "<!-- generated: card -->\n### Model card: " in card  # the demo's model, written by ./run docs
