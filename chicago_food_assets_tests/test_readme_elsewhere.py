"""The README's commands that work in state folders of their own (the tiny example, the generated feed), as pasted:
a file of their own, so that the suite can hand them to whichever worker is free (conftest.py's LONGEST)."""

import pytest

from chicago_food_assets_tests.helpers import user_environment
from chicago_food_assets_tests.test_first_contact import elsewhere, readme_blocks, run_block


@pytest.mark.timeout(900)
def test_the_readme_commands_with_state_folders_of_their_own_work_as_pasted(state):
    blocks = [block for block in readme_blocks() if elsewhere(block)]
    assert len(blocks) >= 2, "the tiny example and the generated feed"
    env = user_environment(state)
    for block in blocks:
        run_block(block, state, env)
