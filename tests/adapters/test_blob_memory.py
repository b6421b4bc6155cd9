"""What files said at a commit, remembered (adapters/blob_memory.py): one text per blob id
whatever the number of heads it is read at, bounded in entries and characters."""

from __future__ import annotations

from gitops_promoter.adapters.blob_memory import BlobMemory
from gitops_promoter.errors import GitRejected


def test_an_unchanged_file_read_at_many_heads_is_kept_once():
    memory = BlobMemory(chars=1_000)
    for i in range(100):
        memory.text(f"head{i}", "values.yaml", "blob-a", "x" * 200)
    assert memory._chars == 200 and all(memory.get(f"head{i}", "values.yaml") == "x" * 200 for i in range(100))


def test_past_its_character_bound_everything_is_forgotten_and_read_again():
    memory = BlobMemory(chars=1_000)
    for i in range(6):
        memory.text("head", f"f{i}", f"blob{i}", "y" * 200)
    assert memory._chars <= 1_000
    assert memory.get("head", "f5") == "y" * 200 and memory.get("head", "f0") is None


def test_a_file_over_a_quarter_of_the_bound_is_not_kept():
    memory = BlobMemory(chars=1_000)
    memory.text("head", "big", "blob", "z" * 251)
    assert memory.get("head", "big") is None and memory._chars == 0


def test_a_refusal_is_remembered_as_a_fresh_error_each_time():
    memory = BlobMemory(paths=3)
    memory.refused("head", "gone.yaml", GitRejected(repository="deploy", detail="gone.yaml: no such file"))
    first, second = memory.get("head", "gone.yaml"), memory.get("head", "gone.yaml")
    assert isinstance(first, GitRejected) and first is not second and first.detail == "gone.yaml: no such file"
    for i in range(3):
        memory.text("head", f"f{i}", f"b{i}", "t")
    assert memory.get("head", "gone.yaml") is None  # past its entry bound: forgotten
